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


def test_rejected_scores_strictly_below_chosen_by_default():
    rs = R(2.0, 5.0, 5.0, 1.0)
    c = select(rs, "closest", instruction_id="t")
    assert (c.chosen, c.rejected, c.margin) == (1, 0, 3.0)  # equal best: the earlier one is chosen, the tie skipped
    assert select(rs, "farthest", instruction_id="t").rejected == 3
    for i in range(50):  # random never draws the tying response
        sel = select(rs, "random", instruction_id=i)
        assert sel.rejected in (0, 3) and sel.margin > 0
    # all equal: no pair can be formed; the first one is an SFT row, said why
    same = select(R(3.0, 3.0, 3.0), "closest", instruction_id="s")
    assert (same.outcome, same.chosen, same.rejected, same.reason) == ("sft", 0, None, "no_lower_score")


def test_allow_ties_keeps_the_old_rank_order_semantics():
    rs = R(2.0, 5.0, 5.0, 1.0)
    c = select(rs, "closest", instruction_id="t", allow_ties=True)
    assert c.chosen == 1 and c.rejected == 2 and c.margin == 0.0
    # equal lowest: the ranking keeps response order, so the later one is the last rank
    low = R(5.0, 1.0, 1.0)
    assert select(low, "farthest", instruction_id="x").rejected == 2
    assert select(low, "closest", instruction_id="x").rejected == 1
    same = R(3.0, 3.0, 3.0)
    s1 = select(same, "closest", instruction_id="s", allow_ties=True)
    assert (s1.chosen, s1.rejected) == (0, 1)
    assert select(same, "farthest", instruction_id="s", allow_ties=True).rejected == 2


def P(*rows, filtered=()):
    """Responses from (score, pass rate) pairs."""
    return [Response(i, f"r{i}", None if i in filtered else float(s), i not in filtered, pass_rate=p)
            for i, (s, p) in enumerate(rows)]


def test_only_a_response_passing_its_tests_may_be_chosen():
    # pass rate dominates the execution score; failing responses are rejected candidates, never chosen
    rs = P((1.004, 1.0), (0.5, 0.5), (1.002, 1.0), (0.0, 0.0))
    f = select(rs, "farthest", instruction_id="g")
    assert (f.chosen, f.rejected, f.margin) == (0, 3, pytest.approx(1.004))
    assert select(rs, "closest", instruction_id="g").rejected == 2  # the tie-break decided between two passes
    # nobody passes everything: no pair, no SFT row
    fail = select(P((0.6, 0.5), (0.1, 0.0)), "farthest", instruction_id="h")
    assert (fail.outcome, fail.reason) == ("dropped", "chosen_fails_tests")
    assert select(P((0.6, 0.5), (0.1, 0.0)), "farthest", instruction_id="h", chosen_min_pass_rate=0.5).chosen == 0
    assert select(P((0.6, 0.5), (0.1, 0.0)), "farthest", instruction_id="h",
                  chosen_min_pass_rate=None).outcome == "pair"
    # a lone failing survivor is not an SFT row
    assert select(P((0.3, 0.0)), "closest", instruction_id="i").reason == "chosen_fails_tests"
    # a weighted score can rank a failing response first: chosen is the best passing one, and only lower ones
    # are rejected candidates
    w = select(P((2.0, 0.0), (1.5, 1.0), (1.0, 0.5)), "farthest", instruction_id="w")
    assert (w.chosen, w.rejected, w.ranking) == (1, 2, (0, 1, 2))
    # responses without test results (a reward-model score) are not gated
    assert select(R(1.0, 2.0), "closest", instruction_id="r").chosen == 1


def PH(scores, placeholder=(), filtered=()):
    out = []
    for i, s in enumerate(scores):
        if i in placeholder:
            out.append(Response(i, f"stub{i}", None, False, ["placeholder"], detail="placeholder (todo, line 2)"))
        elif i in filtered:
            out.append(Response(i, f"bad{i}", None, False, ["parse"]))
        else:
            out.append(Response(i, f"r{i}", float(s), True))
    return out


def test_placeholder_responses_become_rejected_when_asked():
    rs = PH([0.2, None, 0.9, None, 0.5], placeholder=(1, 3))
    for strategy in ("closest", "farthest", "random"):
        sel = select(rs, strategy, instruction_id="p", placeholder_rejected=True)
        # chosen = the best survivor, rejected = the first placeholder response, whatever the strategy
        assert (sel.outcome, sel.chosen, sel.rejected, sel.margin, sel.rejected_source) == (
            "pair", 2, 1, None, "placeholder")
        assert sel.rank_of(1) is None
    # off (the default): placeholder responses stay dropped and the usual strategy picks among survivors
    off = select(rs, "farthest", instruction_id="p")
    assert (off.chosen, off.rejected, off.rejected_source) == (2, 0, "ranking")
    # no placeholder response: the usual strategies
    plain = PH([0.2, None, 0.9], filtered=(1,))
    assert select(plain, "closest", instruction_id="q", placeholder_rejected=True).rejected == 0
    # a lone survivor plus a placeholder response is a pair, not an SFT row
    lone = select(PH([None, 0.7], placeholder=(0,)), "closest", instruction_id="l", placeholder_rejected=True)
    assert (lone.outcome, lone.chosen, lone.rejected) == ("pair", 1, 0)
    # only placeholder responses: nothing can be chosen
    assert select(PH([None, None], placeholder=(0, 1)), "closest", instruction_id="n",
                  placeholder_rejected=True).reason == "no_survivors"
    # the chosen side is gated as usual
    gated = [Response(0, "stub", None, False, ["placeholder"]), Response(1, "wrong", 0.0, True, pass_rate=0.0)]
    assert select(gated, "closest", instruction_id="g", placeholder_rejected=True).reason == "chosen_fails_tests"


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
    assert (sel.outcome, sel.chosen, sel.rejected, sel.reason) == ("sft", 1, None, "single_survivor")


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
    assert {k: on_disk[k] for k in ("sft_by_reason", "zero_margin_pairs", "pairs_by_basis", "warnings")} == {
        "sft_by_reason": {"single_survivor": 1}, "zero_margin_pairs": 0, "pairs_by_basis": {"score": 2},
        "warnings": []}
    assert on_disk["placeholder_rejected"] == {"enabled": False, "pairs": 0, "instructions_with_placeholder": 0}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["stage"] == "prefs.build"
    assert manifest["config"]["strategy"] == "farthest" and str(cands) in manifest["inputs"]
    assert (out / "margins.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "scores.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_shows_every_strategy(cands, tmp_path):
    out = tmp_path / "out"
    stats = build_pairs(cands, out, "closest", progress=False)
    per = stats["per_strategy"]
    # closest margins: a 1.0, d 0.1, e 4.0 (the tie with 5.0 is never a rejected one); farthest: a 2.0, d 0.1, e 4.0
    assert per["closest"]["margin"]["max"] == 4.0 and per["closest"]["margin"]["min"] == pytest.approx(0.1)
    assert per["farthest"]["margin"]["max"] == 4.0 and per["farthest"]["margin"]["min"] == pytest.approx(0.1)
    assert per["closest"]["rejected_score"]["n"] == per["closest"]["pairs"] == 3
    md = (out / "report.md").read_text()
    for s in ("closest (written)", "farthest", "random", "margins.png", "scores.png", "chosen #1, rejected #2"):
        assert s in md
    html = (out / "report.html").read_text()
    assert "<table>" in html and html.count("data:image/png;base64,") == 2


def test_zero_margin_pairs_are_counted_and_warned_about(cands, tmp_path, caplog):
    # allow_ties: e's closest pair ties (5.0 vs 5.0): written, counted, warned about, shown in the report
    stats = build_pairs(cands, tmp_path / "ties", "closest", allow_ties=True, progress=False)
    assert stats["zero_margin_pairs"] == 1 and stats["pairs"] == 3 and stats["margin"]["min"] == 0.0
    assert stats["pairs_by_basis"] == {"nothing": 1, "score": 2}
    assert "1 of 3 pairs have margin 0" in stats["warnings"][0]
    assert any("margin 0" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert "**Warning**: 1 of 3 pairs have margin 0" in (tmp_path / "ties" / "report.md").read_text()
    # the default: no zero-margin pair; an instruction whose survivors all tie becomes an SFT row, with a warning
    rows = [cand("t", [2.0, 2.0, 2.0]), cand("u", [3.0, 1.0])]
    stats = build_pairs(write(tmp_path / "t.jsonl", rows), tmp_path / "strict", "closest", progress=False)
    assert (stats["pairs"], stats["sft"], stats["zero_margin_pairs"]) == (1, 1, 0)
    assert stats["sft_by_reason"] == {"no_lower_score": 1}
    assert "1 instruction(s) had several survivors all scoring the same" in stats["warnings"][0]
    assert read(tmp_path / "strict" / "sft.jsonl")[0]["meta"]["source"] == "prefs.no_lower_score"


def test_pairs_record_pass_rates_and_what_decided_them(tmp_path):
    def resp(text, score, rate, passed=True, reasons=None, detail=None):
        r = {"text": text, "score": score, "passed_filters": passed,
             "execution": {"passed": 0, "total": 2, "pass_rate": rate, "statuses": []}}
        if reasons:
            r |= {"filter_reasons": reasons, "filter_detail": detail, "score": None}
            del r["execution"]
        return r

    rows = [
        {"id": "x", "prompt": "q", "responses": [resp("ok", 1.01, 1.0), resp("half", 0.505, 0.5)]},
        {"id": "y", "prompt": "q", "responses": [resp("ok", 1.02, 1.0), resp("ok2", 1.01, 1.0)]},
        {"id": "z", "prompt": "q", "responses": [resp("bad", 0.0, 0.0), resp("worse", 0.0, 0.0)]},
        {"id": "p", "prompt": "q", "responses": [
            resp("ok", 1.02, 1.0), resp("# TODO: implement", None, None, False, ["placeholder"], "placeholder (todo)"),
            resp("half", 0.5, 0.5)]},
    ]
    path = write(tmp_path / "c.jsonl", rows)
    stats = build_pairs(path, tmp_path / "o", "farthest", placeholder_rejected=True, progress=False)
    assert stats["pairs_by_basis"] == {"pass_rate": 1, "placeholder": 1, "tie_break": 1}
    assert stats["dropped_by_reason"] == {"chosen_fails_tests": 1}
    assert stats["placeholder_rejected"] == {"enabled": True, "pairs": 1, "instructions_with_placeholder": 1}
    pairs = {p["meta"]["id"]: p for p in read(tmp_path / "o" / "pairs.jsonl")}
    assert (pairs["x"]["meta"]["chosen_pass_rate"], pairs["x"]["meta"]["rejected_pass_rate"]) == (1.0, 0.5)
    ph = pairs["p"]["meta"]
    assert pairs["p"]["rejected"][0]["content"] == "# TODO: implement"
    assert (ph["rejected_source"], ph["margin"], ph["rejected_score"], ph["rejected_rank"]) == (
        "placeholder", None, None, None)
    assert ph["rejected_filter_detail"] == "placeholder (todo)"
    assert stats["margin"]["n"] == 2  # the placeholder pair has no margin
    # without the option the same candidates give the usual pair for p, and the placeholder is only counted
    stats = build_pairs(path, tmp_path / "o2", "farthest", progress=False)
    assert stats["placeholder_rejected"] == {"enabled": False, "pairs": 0, "instructions_with_placeholder": 1}
    assert read(tmp_path / "o2" / "pairs.jsonl")[2]["rejected"][0]["content"] == "half"


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
