"""torchrun entry point: Megatron-LM's ``pretrain_gpt.py`` with codeja's dataset provider plugged in.

    torchrun ... megatron_pretrain.py --provider codeja.fim.megatron:fim_dataset_provider \\
        /opt/Megatron-LM/pretrain_gpt.py --tensor-model-parallel-size 4 ...

pretrain_gpt.py takes its dataset provider from a module-level function, ``train_valid_test_datasets_provider``,
referenced in its ``if __name__ == "__main__":`` block. This entry imports the script as a module (the block does
not run), rebinds that name to our provider, then executes the block itself in the module's namespace. Everything
else (model provider, forward step, argument parsing of the remaining argv) is Megatron-LM's own code, whatever
its version, so we carry no fork of pretrain_gpt.py.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from pathlib import Path

PROVIDER_NAME = "train_valid_test_datasets_provider"


def _main_block(script: Path) -> ast.Module:
    tree = ast.parse(script.read_text(encoding="utf-8"), filename=str(script))
    for node in tree.body:
        if (
            isinstance(node, ast.If)
            and isinstance(node.test, ast.Compare)
            and isinstance(node.test.left, ast.Name)
            and node.test.left.id == "__name__"
        ):
            return ast.Module(body=node.body, type_ignores=[])
    raise SystemExit(f"{script}: no `if __name__ == '__main__':` block to run")


def load_provider(spec: str):
    module, _, func = spec.partition(":")
    if not module or not func:
        raise SystemExit(f"--provider {spec!r}: expected MODULE:FUNCTION")
    return getattr(importlib.import_module(module), func)


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[0] != "--provider":
        raise SystemExit(
            "usage: megatron_pretrain.py --provider MODULE:FUNCTION PATH/pretrain_gpt.py [ARGS...]"
        )
    provider, script, rest = argv[1], Path(argv[2]).resolve(), argv[3:]
    if not script.is_file():
        raise SystemExit(f"{script}: not found (set megatron.megatron_lm_dir to a Megatron-LM checkout)")
    sys.path.insert(0, str(script.parent))  # pretrain_gpt.py imports `megatron.*` from its checkout
    spec = importlib.util.spec_from_file_location("pretrain_gpt", script)
    module = importlib.util.module_from_spec(spec)
    sys.modules["pretrain_gpt"] = module
    spec.loader.exec_module(module)
    setattr(module, PROVIDER_NAME, load_provider(provider))
    sys.argv = [str(script), *rest]  # Megatron parses sys.argv
    exec(compile(_main_block(script), str(script), "exec"), vars(module))  # noqa: S102 - Megatron's own block


if __name__ == "__main__":
    main(sys.argv[1:])
