"""Held-out left-to-right loss of a model on a tokenized corpus: the same windows, in the same order, for
every model, so the losses of the study's arms are comparable window by window."""

from __future__ import annotations

from codeja.errors import InputError
from codeja.fim.packing import PackedCorpus
from codeja.models.loading import load_causal_lm


def heldout_losses(model: str, prefix: str, *, seq_len: int = 512, max_windows: int = 64,
                   batch_size: int = 4) -> list[float]:
    """Mean next-token loss of each of the first ``max_windows`` windows of ``seq_len`` tokens (documents end
    to end in file order, each ending with its end-of-document token, as in training without FIM)."""
    # heavy: torch (kept out of `codeja --help` and light imports)
    import torch

    corpus = PackedCorpus(prefix, seq_len, shuffle=False)
    n = min(len(corpus), max_windows)
    if n == 0:
        raise InputError(f"the held-out corpus fills no window of {seq_len} tokens", path=prefix)
    lm = load_causal_lm(model, dtype="float32")
    lm.eval()
    losses: list[float] = []
    with torch.inference_mode():
        for start in range(0, n, batch_size):
            windows = range(start, min(n, start + batch_size))
            ids = torch.stack([torch.as_tensor(corpus.read(i)[0][:seq_len]) for i in windows])
            if int(ids.max()) >= lm.config.vocab_size:
                raise InputError(f"token id {int(ids.max())} is outside {model}'s vocabulary "
                                 f"({lm.config.vocab_size}): tokenized with another tokenizer?", path=prefix)
            logits = lm(input_ids=ids).logits[:, :-1].float()
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                     ids[:, 1:].reshape(-1), reduction="none")
            loss = loss.view(ids.shape[0], -1).mean(dim=1)
            losses += [float(x) for x in loss]
    del lm
    return losses
