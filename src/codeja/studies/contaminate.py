"""``codeja study contaminate``: a copy of a code corpus where some function bodies are placeholder idioms.

This is how the placeholder study makes the "fill in your code" documents whose effect it measures, with a
record of every replacement, and how it measures the curation filter honestly: the filter's recall on the
contaminated documents, split by idiom group (phrases the filter was tuned on, phrases it was not, bare
stubs).

Output folder::

    corpus/<input file name>.jsonl   the documents, same order; untouched lines copied byte for byte
    contamination.jsonl              one line per contaminated document: id, index, idiom, every replaced span
                                     (character offsets into the original text, the original's sha256, the new
                                     text)
    stats.json                       counts, realised shares, the filter's recall per group and per idiom
    report.md, manifest.json

Determinism: document ``i``'s draws (whether it is picked, its idiom, which bodies) come from
``derive_seed(seed, "study.contaminate", i)`` alone, so the copy does not depend on anything but the input and
the config. Exactly ``round(doc_share * n)`` of the ``n`` documents with a replaceable body are picked (the
smallest first draws), so small corpora get the share asked for, not a binomial approximation of it.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import random
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeja.backends.base import derive_seed
from codeja.codeparse import canonical_language, language_from_path
from codeja.errors import InputError
from codeja.io import parse_line, write_jsonl
from codeja.quality.placeholder import get_detector
from codeja.report.render import table_md
from codeja.runs import REPORT_MD, STATS, stage_run, write_json
from codeja.studies.bodies import function_bodies, supported
from codeja.studies.config import ContaminateConfig
from codeja.studies.idioms import GROUPS, Idiom, load_idioms

CORPUS, RECORDS = "corpus", "contamination.jsonl"


@dataclass
class Line:
    file: Path
    lineno: int
    index: int  # position among all documents of the input, in file order
    raw: bytes
    doc: dict[str, Any]
    text: str


def input_files(path: str | Path | None, what: str = "a JSONL file or a folder of them") -> list[Path]:
    """The JSONL files of a stage's ``input`` (a file, or a folder of them); an unset input names ``what`` it needs."""
    if not path:
        raise InputError(f"set input: {what}", field="input")
    p = Path(path)
    if p.is_file():
        return [p]
    if not p.is_dir():
        raise InputError("not found (expected a JSONL file or a folder of them)", path=str(p))
    files = sorted(f for f in p.iterdir() if f.is_file() and f.name.endswith((".jsonl", ".jsonl.gz")))
    if not files:
        raise InputError("no .jsonl or .jsonl.gz files in this folder", path=str(p))
    return files


def read_lines(files: list[Path], text_field: str) -> Iterator[Line]:
    """Every document with its raw line; a malformed line is an error naming the file, line and field."""
    index = 0
    for f in files:
        with (gzip.open(f, "rb") if f.name.endswith(".gz") else open(f, "rb")) as fh:
            for lineno, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                doc, why, _ = parse_line(raw)
                if why is not None:
                    raise InputError(why, path=str(f), line=lineno)
                text = doc.get(text_field)
                if not isinstance(text, str):
                    why = f"expected a string, got {type(text).__name__}" if text_field in doc else "missing"
                    raise InputError(why, path=str(f), line=lineno, field=text_field)
                yield Line(f, lineno, index, raw if raw.endswith(b"\n") else raw + b"\n", doc, text)
                index += 1


def document_language(doc: dict[str, Any]) -> str | None:
    """metadata.language, else the language of metadata.path / metadata.file / the id's file extension."""
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    lang = meta.get("language") or meta.get("lang")
    if isinstance(lang, str) and lang:
        return canonical_language(lang)
    for key in ("path", "file"):
        if isinstance(meta.get(key), str) and (guess := language_from_path(meta[key])):
            return guess
    ident = doc.get("id")
    return language_from_path(ident.rsplit(":", 1)[0]) if isinstance(ident, str) else None


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _chars(data: bytes, pos: int) -> int:
    return len(data[:pos].decode("utf-8", "surrogatepass"))


class Contaminator:
    """The per-document decisions and rewrite; one job: (document, index) -> (new text, record) or None."""

    def __init__(self, cfg: ContaminateConfig):
        self.cfg = cfg
        allowed = {canonical_language(x) for x in cfg.languages}
        self.pools: dict[str, tuple[Idiom, ...]] = {}
        for lang, idioms in load_idioms(cfg.idioms).items():
            pool = tuple(i for i in idioms if i.group in cfg.groups)
            if pool and supported(lang) and (not allowed or lang in allowed):
                self.pools[lang] = pool

    def rng(self, index: int) -> random.Random:
        return random.Random(derive_seed(self.cfg.seed, "study.contaminate", index))

    def n_bodies(self, text: str, lang: str | None) -> int:
        return len(function_bodies(_bytes(text), lang)) if lang in self.pools else 0

    def rewrite(self, text: str, lang: str, index: int) -> tuple[str, dict[str, Any]]:
        data = _bytes(text)
        bodies = function_bodies(data, lang)
        rng = self.rng(index)
        rng.random()  # draw 1 decided whether the document is picked (see pick())
        idiom = rng.choice(self.pools[lang])
        k = max(1, round(self.cfg.body_share * len(bodies)))
        chosen = sorted(rng.sample(range(len(bodies)), k))
        parts, pos, spans = [], 0, []
        for j in chosen:
            b = bodies[j]
            new = b.replacement(idiom.render(b.indent))
            parts += [data[pos:b.start], _bytes(new)]
            pos = b.end
            spans.append({"function": b.name, "line": b.line, "start": _chars(data, b.start),
                          "end": _chars(data, b.end), "replacement": new,
                          "original_sha256": hashlib.sha256(data[b.start:b.end]).hexdigest()})
        parts.append(data[pos:])
        record = {"idiom": idiom.id, "group": idiom.group, "idiom_lang": idiom.lang, "language": lang,
                  "bodies": len(bodies), "replaced": len(chosen), "replacements": spans}
        return b"".join(parts).decode("utf-8", "surrogatepass"), record

    def pick(self, counts: dict[int, int]) -> set[int]:
        """Exactly round(doc_share * n) of the n documents with bodies: those with the smallest first draw."""
        candidates = [i for i, n in counts.items() if n > 0]
        k = round(self.cfg.doc_share * len(candidates))
        return set(sorted(candidates, key=lambda i: (self.rng(i).random(), i))[:k])


def contaminate(cfg: ContaminateConfig, output_dir: str | Path, *, progress: bool = False) -> dict[str, Any]:
    """Write the contaminated copy of ``cfg.input`` to ``output_dir``; returns a summary of stats.json."""
    files = input_files(cfg.input, "a JSONL file or a folder of them (curate's kept/)")
    out = Path(output_dir)
    with stage_run(out, "study.contaminate", cfg, inputs=files, seeds={"seed": cfg.seed}) as run:
        if run.skipped:
            return run.manifest["summary"]
        tool = Contaminator(cfg)

        detector = get_detector(tuple(cfg.filter_extra_patterns))
        langs: dict[int, str | None] = {}
        counts: dict[int, int] = {}
        for ln in read_lines(files, cfg.text_field):  # pass 1: which documents have bodies to replace
            langs[ln.index] = lang = document_language(ln.doc)
            counts[ln.index] = tool.n_bodies(ln.text, lang)
        picked = tool.pick(counts)
        records, tally = [], Tally()
        (out / CORPUS).mkdir(parents=True, exist_ok=True)
        handles: dict[Path, Any] = {}
        with contextlib.ExitStack() as stack:
            for ln in read_lines(files, cfg.text_field):  # pass 2: rewrite the picked ones, copy the rest
                fh = handles.get(ln.file)
                if fh is None:
                    name = ln.file.name.removesuffix(".gz")
                    fh = handles[ln.file] = stack.enter_context(open(out / CORPUS / f".{name}.tmp", "wb"))
                if ln.index not in picked:
                    fh.write(ln.raw)
                    tally.untouched(langs[ln.index], counts[ln.index], detector.find(ln.text) is not None)
                    continue
                new_text, rec = tool.rewrite(ln.text, langs[ln.index], ln.index)
                doc = dict(ln.doc)
                doc[cfg.text_field] = new_text
                line = json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n"
                fh.write(line.encode("utf-8", "surrogatepass"))
                before, after = detector.find(ln.text), detector.find(new_text)
                rec = {"id": ln.doc.get("id"), "index": ln.index, "file": ln.file.name, "line": ln.lineno,
                       **rec, "flagged_before": before is not None,
                       "flagged_after": after.as_dict() if after is not None else None}
                records.append(rec)
                tally.contaminated(rec)
        for f in files:  # publish each file only once complete
            name = f.name.removesuffix(".gz")
            (out / CORPUS / f".{name}.tmp").replace(out / CORPUS / name)

        write_jsonl(out / RECORDS, records)
        stats = tally.summary(cfg, counts)
        write_json(out / STATS, stats)
        (out / REPORT_MD).write_text(report_md(stats), encoding="utf-8")
        summary = {"corpus": str(out / CORPUS), "contamination_file": str(out / RECORDS),
                   "contamination_sha256": hashlib.sha256((out / RECORDS).read_bytes()).hexdigest(),
                   "documents": stats["documents"], "contaminated": stats["contaminated"],
                   "bodies_replaced": stats["bodies_replaced"],
                   "filter_recall": {g: v["recall"] for g, v in stats["filter"]["by_group"].items()}}
        run.record(summary=summary, stats=stats)
    return summary


class Tally:
    """Counts for stats.json: documents, bodies, idioms, and what the placeholder filter flags."""

    def __init__(self) -> None:
        self.docs = Counter()
        self.bodies = Counter()
        self.by_lang: dict[str, Counter] = defaultdict(Counter)
        self.by_idiom: dict[str, Counter] = defaultdict(Counter)
        self.by_group: dict[str, Counter] = defaultdict(Counter)
        self.idiom_group: dict[str, str] = {}

    def untouched(self, lang: str | None, n_bodies: int, flagged: bool) -> None:
        self.docs["untouched"] += 1
        self.docs["untouched_flagged"] += flagged
        self.by_lang[lang or "unknown"]["documents"] += 1
        self.by_lang[lang or "unknown"]["with_bodies"] += n_bodies > 0
        self.bodies["total"] += n_bodies

    def contaminated(self, rec: dict[str, Any]) -> None:
        lang, key = rec["language"], f"{rec['language']}:{rec['idiom']}"
        self.docs["contaminated"] += 1
        for k in ("documents", "with_bodies", "contaminated"):
            self.by_lang[lang][k] += 1
        self.bodies["total"] += rec["bodies"]
        self.bodies["in_contaminated"] += rec["bodies"]
        self.bodies["replaced"] += rec["replaced"]
        self.idiom_group[key] = rec["group"]
        flagged = rec["flagged_after"] is not None
        for c in (self.by_idiom[key], self.by_group[rec["group"]], self.by_group["all"]):
            c["documents"] += 1
            c["flagged"] += flagged
            c["flagged_before"] += rec["flagged_before"]
            if not rec["flagged_before"]:
                c["new"] += 1
                c["new_flagged"] += flagged

    @staticmethod
    def recall(c: Counter) -> dict[str, Any]:
        """Recall over the documents the filter did not flag before contamination (the stdlib has a few)."""
        return {"documents": c["documents"], "flagged": c["flagged"], "flagged_before": c["flagged_before"],
                "recall": round(c["new_flagged"] / c["new"], 4) if c["new"] else None}

    def summary(self, cfg: ContaminateConfig, counts: dict[int, int]) -> dict[str, Any]:
        with_bodies = sum(1 for v in counts.values() if v > 0)
        contaminated = self.docs["contaminated"]
        return {
            "documents": len(counts), "documents_with_bodies": with_bodies, "contaminated": contaminated,
            "doc_share": {"asked": cfg.doc_share,
                          "realised": round(contaminated / with_bodies, 4) if with_bodies else None},
            "bodies_total": self.bodies["total"], "bodies_replaced": self.bodies["replaced"],
            "body_share": {"asked": cfg.body_share, "realised_in_contaminated":
                           round(self.bodies["replaced"] / self.bodies["in_contaminated"], 4)
                           if self.bodies["in_contaminated"] else None},
            "by_language": {k: dict(v) for k, v in sorted(self.by_lang.items())},
            "filter": {
                "detector": "codeja.quality.placeholder", "extra_patterns": list(cfg.filter_extra_patterns),
                "all": self.recall(self.by_group["all"]),
                "by_group": {g: self.recall(self.by_group[g]) for g in GROUPS if g in self.by_group},
                "by_idiom": {k: {"group": self.idiom_group[k], **self.recall(c)}
                             for k, c in sorted(self.by_idiom.items())},
                "untouched_documents": self.docs["untouched"],
                "untouched_flagged": self.docs["untouched_flagged"],
            },
            "seed": cfg.seed,
        }


def report_md(stats: dict[str, Any]) -> str:
    """The filter's recall per group and per idiom, as Markdown."""
    f = stats["filter"]
    lines = [(f"# Contamination: {stats['contaminated']} of {stats['documents_with_bodies']} documents with "
              f"bodies ({stats['documents']} in all), {stats['bodies_replaced']} bodies replaced"), "",
             ("Placeholder filter recall (documents flagged after contamination, among those it did not flag "
              "before):"),
             ""]
    rows = []
    for name, r in [("all", f["all"]), *f["by_group"].items(), *f["by_idiom"].items()]:
        rec = "—" if r["recall"] is None else f"{r['recall']:.3f}"
        rows.append([f"{name} ({r['group']})" if "group" in r else name, r["documents"], r["flagged"], rec])
    lines += table_md(["idioms", "documents", "flagged", "recall"], rows).splitlines()
    lines += ["", (f"Untouched documents the filter flags anyway: {f['untouched_flagged']} of "
                   f"{f['untouched_documents']}.")]
    return "\n".join(lines) + "\n"
