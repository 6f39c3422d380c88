"""Pair building: strategy semantics on hand-made candidate sets, outputs, determinism, bad input."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from codeja.errors import ConfigError, InputError
from codeja.prefs.build import build_pairs
from codeja.prefs.records import Response
from codeja.prefs.strategies import random_pick, select


def R(*scores, filtered=()):
    """Responses with these scores; indices in `filtered` did not pass the filters (score None)."""
    return [Response(i, f"r{i}", None if i in filtered else float(s), i not in filtered) for i, s in enumerate(scores)]


def cand(cid, scores, filtered=(), prompt="Write f"):
    return {"id": cid, "prompt": [{"role": "user", "content": prompt}],
            "responses": [{"text": f"{cid}-r{i}", "score": None if i in filtered else s,
                           "passed_filters": i not in filtered} for i, s in enumerate(scores)]}


def write(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def read(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


# ---------------------------------------------------------------------------------------------------------------
# strategy semantics


def test_closest_and_farthest_pick_next_and_lowest():
    rs = R(1.0, 3.0, 2.0, 0.5)
    c = select(rs, "closest", instruction_id="a")
    f = select(rs, "farthest", instruction_id="a")
    assert (c.outcome, c.chosen, c.rejected, c.margin) == ("pair", 1, 2, 1.0)
    assert (f.outcome, f.chosen, f.rejected, f.margin) == ("pair", 1, 3, 2.5)
    assert c.ranking == (1, 2, 0, 3)
    assert f.rank_of(3) == 4


def test_ties_are_broken_by_response_order():
    rs = R(2.0, 5.0, 5.0, 1.0)
    c = select(rs, "closest", instruction_id="t")
    assert c.chosen == 1 and c.rejected == 2 and c.margin == 0.0  # equal best: the earlier one is chosen
    assert select(rs, "farthest", instruction_id="t").rejected == 3
    # equal lowest: the ranking keeps response order, so the later one is the last rank
    low = R(5.0, 1.0, 1.0)
    assert select(low, "farthest", instruction_id="x").rejected == 2
    assert select(low, "closest", instruction_id="x").rejected == 1
    # all equal: first chosen, second is closest, last is farthest
    same = R(3.0, 3.0, 3.0)
    assert (select(same, "closest", instruction_id="s").chosen, select(same, "closest", instruction_id="s").rejected) == (0, 1)
    assert select(same, "farthest", instruction_id="s").rejected == 2


def test_filtered_responses_never_picked():
    rs = R(9.0, 1.0, 9.5, 0.0, filtered=(2,))
    for s in ("closest", "farthest", "random"):
        sel = select(rs, s, instruction_id="f")
        assert sel.chosen == 0 and sel.rejected in (1, 3) and 2 not in sel.ranking


def test_all_filtered_is_dropped_and_empty_is_dropped():
    sel = select(R(1, 2, filtered=(0, 1)), "farthest", instruction_id="z")
    assert (sel.outcome, sel.reason, sel.chosen) == ("dropped", "no_survivors", None)
    assert select([], "closest", instruction_id="e").reason == "no_responses"


def test_one_survivor_is_sft():
    sel = select(R(1, 7, 3, filtered=(0, 2)), "random", instruction_id="o")
    assert (sel.outcome, sel.chosen, sel.rejected) == ("sft", 1, None)


def test_min_margin_drops_close_pairs_only():
    rs = R(1.0, 2.75, 3.0)
    close = select(rs, "closest", instruction_id="m", min_margin=0.5)
    assert (close.outcome, close.reason, close.margin) == ("dropped", "below_min_margin", 0.25)
    far = select(rs, "farthest", instruction_id="m", min_margin=0.5)
    assert far.outcome == "pair" and far.margin == 2.0
    # exactly at the margin is kept ("drops pairs closer than M")
    assert select(R(1.0, 1.5), "closest", instruction_id="m", min_margin=0.5).outcome == "pair"


def test_random_is_seeded_uniform_among_non_chosen():
    rs = R(10.0, 1.0, 2.0, 3.0)
    picks = Counter(select(rs, "random", instruction_id=f"id{i}", seed=7).rejected for i in range(3000))
    assert set(picks) == {1, 2, 3}  # never the chosen one
    for count in picks.values():
        assert 850 < count < 1150  # ~1000 each
    # depends on (seed, id) only: same inputs, same draw; id 5 and "5" agree
    a = [select(rs, "random", instruction_id=i, seed=7).rejected for i in range(50)]
    assert a == [select(rs, "random", instruction_id=i, seed=7).rejected for i in range(50)]
    assert a == [select(rs, "random", instruction_id=str(i), seed=7).rejected for i in range(50)]
    assert a != [select(rs, "random", instruction_id=i, seed=8).rejected for i in range(50)]
    assert random_pick(3, "q", 1) == 0


# ---------------------------------------------------------------------------------------------------------------
# the builder's outputs


@pytest.fixture
def cands(tmp_path):
    rows = [
        cand("a", [1.0, 3.0, 2.0, None], filtered=(3,)),
        cand("b", [4.0], prompt="一つだけ"),
        cand("c", [None, None], filtered=(0, 1)),
        cand("d", [2.0, 2.1]),
        cand("e", [5.0, 5.0, 1.0]),
    ]
    rows[2]["responses"][0]["filter_reasons"] = ["parse"]
    rows[2]["responses"][1]["filter_reasons"] = ["refusal"]
    return write(tmp_path / "cands.jsonl", rows)


def test_build_writes_trl_pairs_sft_dropped_stats(cands, tmp_path):
    out = tmp_path / "out"
    stats = build_pairs(cands, out, "farthest", seed=1, min_margin=0.5, progress=False)
    assert stats["in"] == 5 == stats["pairs"] + stats["sft"] + stats["dropped"] + stats["quarantined"]
    assert (stats["pairs"], stats["sft"], stats["dropped"]) == (2, 1, 2)
    assert stats["dropped_by_reason"] == {"below_min_margin": 1, "no_survivors": 1}
    pairs = read(out / "pairs.jsonl")
    assert [p["meta"]["id"] for p in pairs] == ["a", "e"]
    a = pairs[0]
    assert a["prompt"] == [{"role": "user", "content": "Write f"}]
    assert a["chosen"] == [{"role": "assistant", "content": "a-r1"}]
    assert a["rejected"] == [{"role": "assistant", "content": "a-r0"}]
    assert {k: a["meta"][k] for k in ("strategy", "chosen_score", "rejected_score", "margin", "chosen_rank",
                                      "rejected_rank", "scores")} == {
        "strategy": "farthest", "chosen_score": 3.0, "rejected_score": 1.0, "margin": 2.0, "chosen_rank": 1,
        "rejected_rank": 3, "scores": [1.0, 3.0, 2.0, None]}
    e = pairs[1]["meta"]
    assert (e["chosen_index"], e["rejected_index"]) == (0, 2)
    sft = read(out / "sft.jsonl")
    assert sft == [{"messages": [{"role": "user", "content": "一つだけ"}, {"role": "assistant", "content": "b-r0"}],
                    "meta": {"id": "b", "n_responses": 1, "n_survivors": 1, "source": "prefs.single_survivor",
                             "score": 4.0, "response_index": 0}}]
    dropped = {d["id"]: d for d in read(out / "dropped.jsonl")}
    assert dropped["c"]["reason"] == "no_survivors" and dropped["c"]["filter_reasons"] == {"parse": 1, "refusal": 1}
    assert dropped["d"]["reason"] == "below_min_margin" and dropped["d"]["margin"] == pytest.approx(0.1)
    on_disk = json.loads((out / "stats.json").read_text())
    assert on_disk["pairs"] == 2 and set(on_disk["per_strategy"]) == {"closest", "farthest", "random"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["stage"] == "prefs.build"
    assert manifest["config"]["strategy"] == "farthest" and str(cands) in manifest["inputs"]
    assert (out / "margins.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "scores.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_shows_every_strategy(cands, tmp_path):
    out = tmp_path / "out"
    stats = build_pairs(cands, out, "closest", progress=False)
    per = stats["per_strategy"]
    # closest margins: a 1.0, d 0.1, e 0.0 (tie); farthest: a 2.0, d 0.1, e 4.0
    assert per["closest"]["margin"]["max"] == 1.0 and per["closest"]["margin"]["min"] == 0.0
    assert per["farthest"]["margin"]["max"] == 4.0 and per["farthest"]["margin"]["min"] == pytest.approx(0.1)
    assert per["closest"]["rejected_score"]["n"] == per["closest"]["pairs"] == 3
    md = (out / "report.md").read_text()
    for s in ("closest (written)", "farthest", "random", "margins.png", "scores.png", "chosen #1, rejected #2"):
        assert s in md
    html = (out / "report.html").read_text()
    assert "<table>" in html and html.count("data:image/png;base64,") == 2


def test_build_is_deterministic_and_skips_when_unchanged(cands, tmp_path):
    s1 = build_pairs(cands, tmp_path / "o1", "random", seed=3, progress=False)
    s2 = build_pairs(cands, tmp_path / "o2", "random", seed=3, progress=False)
    assert s1 == s2
    for name in ("pairs.jsonl", "sft.jsonl", "dropped.jsonl", "stats.json", "margins.png", "report.md"):
        assert (tmp_path / "o1" / name).read_bytes() == (tmp_path / "o2" / name).read_bytes(), name
    (tmp_path / "o1" / "pairs.jsonl").write_text("tampered")  # a skipped rerun does not rewrite outputs
    assert build_pairs(cands, tmp_path / "o1", "random", seed=3, progress=False) == s1
    assert (tmp_path / "o1" / "pairs.jsonl").read_text() == "tampered"
    build_pairs(cands, tmp_path / "o1", "random", seed=4, progress=False)  # changed setting: rebuilt
    assert (tmp_path / "o1" / "pairs.jsonl").read_text() != "tampered"


def test_huge_and_unicode_responses(tmp_path):
    big = "x = 1\n" * 200_000  # 1.2 MB
    rows = [{"id": 1, "prompt": "長い", "responses": [{"text": big, "score": 1, "passed_filters": True},
                                                    {"text": "短い🙂", "score": 0, "passed_filters": True}]}]
    stats = build_pairs(write(tmp_path / "c.jsonl", rows), tmp_path / "o", "closest", progress=False)
    pair = read(tmp_path / "o" / "pairs.jsonl")[0]
    assert stats["pairs"] == 1 and pair["chosen"][0]["content"] == big and pair["rejected"][0]["content"] == "短い🙂"


def test_empty_candidates_file(tmp_path):
    (tmp_path / "c.jsonl").write_text("")
    stats = build_pairs(tmp_path / "c.jsonl", tmp_path / "o", "farthest", progress=False)
    assert stats["in"] == stats["pairs"] == 0 and (tmp_path / "o" / "pairs.jsonl").read_text() == ""


# ---------------------------------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize("row,field,msg", [
    ({"prompt": "p", "responses": []}, "id", "missing"),
    ({"id": True, "prompt": "p", "responses": []}, "id", "expected a string or an integer"),
    ({"id": "x", "responses": []}, "prompt", "missing"),
    ({"id": "x", "prompt": 5, "responses": []}, "prompt", "expected a list of messages"),
    ({"id": "x", "prompt": [{"role": "bot", "content": "hi"}], "responses": []}, "prompt[0].role", "role must be"),
    ({"id": "x", "prompt": [{"role": "user"}], "responses": []}, "prompt[0].content", "expected a string"),
    ({"id": "x", "prompt": "p"}, "responses", "missing"),
    ({"id": "x", "prompt": "p", "responses": {"text": "a"}}, "responses", "expected list"),
    ({"id": "x", "prompt": "p", "responses": [{"score": 1, "passed_filters": True}]}, "responses[0].text", "missing"),
    ({"id": "x", "prompt": "p", "responses": [{"text": 3, "score": 1, "passed_filters": True}]}, "responses[0].text",
     "expected a string"),
    ({"id": "x", "prompt": "p", "responses": [{"text": "a", "score": 1}]}, "responses[0].passed_filters", "missing"),
    ({"id": "x", "prompt": "p", "responses": [{"text": "a", "score": 1, "passed_filters": "yes"}]},
     "responses[0].passed_filters", "expected true or false"),
    ({"id": "x", "prompt": "p", "responses": [{"text": "a", "passed_filters": True}]}, "responses[0].score",
     "missing"),
    ({"id": "x", "prompt": "p", "responses": [{"text": "a", "score": "high", "passed_filters": True}]},
     "responses[0].score", "expected a number"),
    ({"id": "x", "prompt": "p", "responses": [{"text": "a", "score": None, "passed_filters": True}]},
     "responses[0].score", "expected a number"),
])
def test_bad_rows_name_file_line_field(tmp_path, row, field, msg):
    path = write(tmp_path / "c.jsonl", [cand("ok", [1.0, 2.0]), row])
    with pytest.raises(InputError) as e:
        build_pairs(path, tmp_path / "o", "closest", progress=False)
    assert e.value.path == str(path) and e.value.line == 2 and e.value.field == field
    assert msg in str(e.value) and f"c.jsonl:2, field '{field}'" in str(e.value)


def test_non_finite_score_malformed_json_invalid_utf8_duplicate_id(tmp_path):
    p = tmp_path / "c.jsonl"
    p.write_text(json.dumps(cand("a", [1.0])) + "\n" + '{"id": "b", "prompt": "p", "responses": '
                 '[{"text": "a", "score": NaN, "passed_filters": true}]}\n')
    with pytest.raises(InputError, match=r"c.jsonl:2, field 'responses\[0\].score': expected a finite number"):
        build_pairs(p, tmp_path / "o", "closest", progress=False)
    p.write_text('{"id": "a", "prompt": "p", "responses": [\n')
    with pytest.raises(InputError, match=r"c.jsonl:1: invalid JSON"):
        build_pairs(p, tmp_path / "o", "closest", progress=False)
    p.write_bytes(json.dumps(cand("a", [1.0])).encode() + b"\n" + b'{"id": "\xff"}\n')
    with pytest.raises(InputError, match=r"c.jsonl:2: invalid UTF-8"):
        build_pairs(p, tmp_path / "o", "closest", progress=False)
    write(p, [cand("a", [1.0]), cand("a", [2.0])])
    with pytest.raises(InputError, match=r"c.jsonl:2, field 'id': duplicate id 'a' \(first on line 1\)"):
        build_pairs(p, tmp_path / "o", "closest", progress=False)
    with pytest.raises(InputError, match="file not found"):
        build_pairs(tmp_path / "nope.jsonl", tmp_path / "o", "closest", progress=False)


def test_quarantine_counts_bad_lines_and_goes_on(tmp_path):
    p = tmp_path / "c.jsonl"
    p.write_bytes(b"\n".join([json.dumps(cand("a", [1.0, 2.0])).encode(), b"not json", b'{"id": "\xff"}',
                              json.dumps({"id": "b", "prompt": "p"}).encode(), json.dumps(cand("c", [3.0])).encode(),
                              json.dumps(cand("a", [3.0])).encode()]) + b"\n")
    stats = build_pairs(p, tmp_path / "o", "closest", quarantine=True, progress=False)
    assert (stats["in"], stats["pairs"], stats["sft"], stats["quarantined"]) == (6, 1, 1, 4)
    q = read(tmp_path / "o" / "quarantine.jsonl")
    assert [x["line"] for x in q] == [2, 3, 4, 6]
    assert q[2]["reason"] == "field 'responses': missing" and "duplicate id" in q[3]["reason"]


def test_bad_strategy_and_margin(tmp_path, cands):
    with pytest.raises(ConfigError, match="unknown strategy 'best'"):
        build_pairs(cands, tmp_path / "o", "best")
    with pytest.raises(ConfigError, match="min_margin"):
        build_pairs(cands, tmp_path / "o", "closest", min_margin=-1)
