"""Scorers behind one interface: reward model (tiny random), served reward model (loopback HTTP), execution, input."""

from __future__ import annotations

import json
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from codeja.errors import ConfigError, InputError
from codeja.prefs.config import ScorerConfig
from codeja.prefs.execution import ExecutionRunner
from codeja.prefs.records import Instruction
from codeja.prefs.scorers import (
    ExecutionScorer,
    HTTPRewardScorer,
    InputScorer,
    RewardModelScorer,
    ScoreItem,
    ScorerError,
    make_scorer,
    parse_reward_response,
)

PROMPT = [{"role": "user", "content": "Write add(a, b) in Python."}]


# ---------------------------------------------------------------------------------------------------------------
# sequence-classification reward model


@pytest.fixture(scope="module")
def rm(tiny_reward_model_dir):
    return RewardModelScorer(str(tiny_reward_model_dir), batch_size=3)


def test_reward_model_scores_are_batch_independent_and_deterministic(rm, tiny_reward_model_dir):
    responses = ["def add(a, b):\n    return a + b", "no", "加算関数です。" * 20, "x"]
    batched = rm.score(PROMPT, responses)
    assert len(batched) == 4 and all(isinstance(s, float) for s in batched)
    assert len(set(batched)) == 4  # a random head still separates different texts
    one_by_one = [rm.score(PROMPT, [r])[0] for r in responses]
    assert batched == pytest.approx(one_by_one, abs=1e-4)  # right padding: the batch does not change a score
    again = RewardModelScorer(str(tiny_reward_model_dir), batch_size=8).score(PROMPT, responses)
    assert again == pytest.approx(batched, abs=1e-4)
    ident = rm.identity()
    assert ident["kind"] == "reward_model" and ident["architecture"] == "LlamaForSequenceClassification"


def test_reward_model_uses_the_chat_template_and_many_prompts(rm):
    text = rm.render(PROMPT, "answer")
    assert "Write add(a, b) in Python." in text and "answer" in text and text != "Write add(a, b) in Python.answer"
    items = [ScoreItem(PROMPT, ["a", "b"]), ScoreItem([{"role": "user", "content": "hi"}], ["c"])]
    many = rm.score_many(items)
    assert [len(x) for x in many] == [2, 1]
    assert many[1] == pytest.approx(rm.score([{"role": "user", "content": "hi"}], ["c"]), abs=1e-4)


def test_reward_model_config_errors(tmp_path, tiny_random_model_dir):
    with pytest.raises(ConfigError, match="set a reward model"):
        RewardModelScorer("")
    with pytest.raises(Exception, match="nope"):
        RewardModelScorer(str(tmp_path / "nope"))


# ---------------------------------------------------------------------------------------------------------------
# served reward model over HTTP (a loopback server speaking the NIM reward format)


class _RewardHandler(BaseHTTPRequestHandler):
    fail_first = 0
    calls = 0
    mode = "nemotron70b"

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_POST(self):
        cls = type(self)
        cls.calls += 1
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if cls.fail_first > 0:
            cls.fail_first -= 1
            self.send_response(503)
            self.end_headers()
            self.wfile.write(b"busy")
            return
        assert self.path == "/v1/chat/completions" and body["messages"][-1]["role"] == "assistant"
        reward = round(len(body["messages"][-1]["content"]) / 4 - 10, 2)  # deterministic: longer is better
        if cls.mode == "nemotron70b":
            choice = {"index": 0, "finish_reason": "length",
                      "message": {"role": "assistant", "content": f"reward:{reward}"},
                      "logprobs": {"content": [{"token": "reward", "logprob": reward, "top_logprobs": []}]}}
        elif cls.mode == "340b":  # attributes in the content only, message as a one-element list
            choice = {"index": 0, "message": [{"role": "assistant", "content":
                      f"helpfulness:{reward},correctness:1.5,coherence:3.3,complexity:0.5,verbosity:0.4"}]}
        else:
            choice = {"index": 0, "message": {"role": "assistant", "content": "I think it is good"}}
        data = json.dumps({"id": "x", "object": "chat.completion", "model": body["model"], "choices": [choice]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(data.encode())


@pytest.fixture
def server():
    _RewardHandler.fail_first, _RewardHandler.calls, _RewardHandler.mode = 0, 0, "nemotron70b"
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _RewardHandler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def test_http_scorer_reads_nemotron_reward(server):
    sc = HTTPRewardScorer(server, "nvidia/llama-3.1-nemotron-70b-reward", concurrency=3)
    scores = sc.score(PROMPT, ["abcd", "abcdefgh", ""])
    assert scores == [-9.0, -8.0, -10.0]
    assert sc.identity() == {"kind": "http", "url": server + "/chat/completions",
                             "model": "nvidia/llama-3.1-nemotron-70b-reward", "attribute": "reward"}


def test_http_scorer_weights_340b_attributes_and_retries(server):
    _RewardHandler.mode, _RewardHandler.fail_first = "340b", 2
    sc = HTTPRewardScorer(server, "nvidia/nemotron-4-340b-reward", weights={"helpfulness": 1.0, "correctness": 2.0},
                          max_retries=3, concurrency=1)
    assert sc.score(PROMPT, ["abcd"]) == [-9.0 + 3.0]
    assert _RewardHandler.calls == 3  # two 503s, then the answer
    with pytest.raises(ScorerError, match="no 'reward'"):
        HTTPRewardScorer(server, "m", concurrency=1).score(PROMPT, ["abcd"])


def test_http_scorer_errors_are_clear(server):
    _RewardHandler.mode = "garbage"
    with pytest.raises(ScorerError, match="not 'name:value' pairs"):
        HTTPRewardScorer(server, "m").score(PROMPT, ["a"])
    with pytest.raises(ScorerError, match=r"no reward after 1 attempt\(s\)"):
        HTTPRewardScorer("http://127.0.0.1:9/v1", "m", max_retries=0, timeout_s=2).score(PROMPT, ["a"])
    with pytest.raises(ConfigError, match="CODEJA_TEST_NO_SUCH_KEY"):
        HTTPRewardScorer(server, "m", api_key_env="CODEJA_TEST_NO_SUCH_KEY")


def test_parse_reward_response_shapes():
    assert parse_reward_response({"choices": [{"message": {"content": "reward:-2.5e1"}}]}) == {"reward": -25.0}
    with pytest.raises(ScorerError, match="no choices"):
        parse_reward_response({"error": "x"})


# ---------------------------------------------------------------------------------------------------------------
# execution and supplied scores, and the config factory


def test_quality_measure_orders_findings_then_size():
    from codeja.prefs.tiebreak import LEVELS, QualityTieBreak, quality, ruff_findings

    assert quality(0, 10) > quality(0, 100) > quality(1, 1) > quality(LEVELS, 5) > quality(LEVELS + 5, 10_000) > 0
    assert quality(0, 0) == 0.0 and 0 < quality(50, 1) < quality(0, 10**9) < 1
    assert ruff_findings(["import os\nx = 1\n", "def f(a=[]):\n    return undefined\n", "", "y = 2\n"]) == [
        1, 2, 0, 0]  # F401; B006 + F821; no code; clean
    inst = Instruction("q", PROMPT, 1, entry_point="add", language="python")
    t = QualityTieBreak().values_for([
        (inst, "```python\ndef add(a, b):\n    return a + b\n```"),
        (inst, "```python\ndef add(a, b):\n    result = a + b\n    return result\n```"),
        (inst, "```python\nimport sys\n\n\ndef add(a, b):\n    return a + b\n```"),
        (inst, "Just add them with the plus operator."),  # unfenced prose is not code
        (inst, "def add(a, b):\n    return a + b\n"),  # unfenced but parses: code
    ])
    assert t[0] > t[1] > t[2] > t[3] == 0.0 and t[4] == t[0]
    js = Instruction("j", PROMPT, 1, language="javascript")
    a, b = QualityTieBreak().values_for([(js, "```js\nconst f = (x) => x;\n```"),
                                         (js, "```js\nfunction f(x) {\n  return x;\n}\n```")])
    assert a > b  # no linter for JavaScript: less code wins
    assert QualityTieBreak().identity()["ruff"].startswith("ruff ")


def test_execution_scorer_breaks_ties_and_never_outranks_a_test():
    inst = Instruction("e", PROMPT, 1, tests=["assert add(1, 2) == 3", "assert add(-1, 1) == 0"],
                       entry_point="add", language="python")
    sc = make_scorer(ScorerConfig(execution={"timeout_s": 5, "workers": 2}))
    short = "```python\ndef add(a, b):\n    return a + b\n```"
    lint = "```python\nimport os\n\n\ndef add(a, b):\n    unused = 1\n    return a + b\n```"
    half = "```python\ndef add(a, b):\n    return abs(a) + b\n```"
    detail = sc.score_many_detailed([ScoreItem(PROMPT, [lint, short, half], inst)])[0]
    assert [d["execution"] for d in detail] == [1.0, 1.0, 0.5]
    totals = [d["total"] for d in detail]
    assert totals[1] > totals[0] > totals[2]  # same tests passed: the tie-break decides; fewer tests: lower
    for d in detail:
        assert d["total"] == pytest.approx(d["execution"] + 0.5 * d["tie_break"] / 2)
    assert totals[0] - totals[2] > 0.5 - 0.25  # the tie-break is worth less than half a test here
    ident = sc.identity()
    assert ident["tie_break"]["kind"] == "quality" and ident["tie_break_span"] == 0.5
    # an instruction without tests: the tie-break alone
    untested = Instruction("m", PROMPT, 2, language="python")
    d = sc.score_many_detailed([ScoreItem(PROMPT, [short, lint], untested)])[0]
    assert [x["execution"] for x in d] == [None, None] and d[0]["total"] == d[0]["tie_break"] > d[1]["total"]
    # tie_break none: pass rate only (and no tests is an error, as before)
    plain = make_scorer(ScorerConfig(execution={"tie_break": "none", "timeout_s": 5}))
    assert plain.score(PROMPT, [short, lint], instruction=inst) == [1.0, 1.0]
    with pytest.raises(ScorerError, match="has no tests"):
        plain.score(PROMPT, [short], instruction=untested)


def test_execution_tie_break_uses_the_reward_model_when_configured(tiny_reward_model_dir):
    inst = Instruction("r", PROMPT, 1, tests=["assert add(1, 2) == 3"], entry_point="add")
    cfg = ScorerConfig(reward_model={"model": str(tiny_reward_model_dir)}, execution={"timeout_s": 5})
    sc = make_scorer(cfg)
    assert sc.identity()["tie_break"]["kind"] == "reward_model"
    good = ["```python\ndef add(a, b):\n    return a + b\n```", "```python\ndef add(a, b):\n    return b + a\n```"]
    detail = sc.score_many_detailed([ScoreItem(PROMPT, good, inst)])[0]
    rm = RewardModelScorer(str(tiny_reward_model_dir)).score(PROMPT, good)
    for d, r in zip(detail, rm):
        assert d["execution"] == 1.0 and d["tie_break"] == pytest.approx(1 / (1 + math.exp(-r)))
    assert (detail[0]["total"] > detail[1]["total"]) == (rm[0] > rm[1])
    sc.close()
    with pytest.raises(ValueError, match="tie_break 'reward_model' needs reward_model.model"):
        ScorerConfig(execution={"tie_break": "reward_model"})


def test_execution_scorer_pass_rate_through_sandbox():
    inst = Instruction("e", PROMPT, 1, tests=["assert add(1, 2) == 3", "assert add(-1, 1) == 0"],
                       entry_point="add", language="python")
    sc = ExecutionScorer(ExecutionRunner(timeout_s=5, workers=2))  # no tie-break: the pass rate alone
    good = "```python\ndef add(a, b):\n    return a + b\n```"
    half = "```python\ndef add(a, b):\n    return abs(a) + b\n```"
    assert sc.score(PROMPT, [good, half, "nothing"], instruction=inst) == [1.0, 0.5, 0.0]
    cached = [{"text": good, "execution": {"passed": 0, "total": 2, "pass_rate": 0.0, "statuses": []}}]
    assert sc.score(PROMPT, [good], instruction=inst, records=cached) == [0.0]  # reuses the filter's result
    with pytest.raises(ScorerError, match="has no tests"):
        sc.score(PROMPT, [good], instruction=Instruction("n", PROMPT, 4))


def test_input_scorer_reads_supplied_scores():
    sc = InputScorer("reward")
    inst = Instruction("s", PROMPT, 7, path="x.jsonl")
    assert sc.score(PROMPT, ["a", "b"], instruction=inst, records=[{"reward": 2}, {"reward": -1.5}]) == [2.0, -1.5]
    with pytest.raises(InputError, match=r"x.jsonl:7, field 'responses\[1\].reward'.*got 'high'"):
        sc.score(PROMPT, ["a", "b"], instruction=inst, records=[{"reward": 1}, {"reward": "high"}])


def test_weighted_scorer_records_components():
    cfg = ScorerConfig(kind="weighted", weights={"execution": 1.0, "input": 0.1})
    sc = make_scorer(cfg, ExecutionRunner(timeout_s=5))
    inst = Instruction("w", PROMPT, 1, tests=["assert add(2, 2) == 4"], entry_point="add")
    good = "```python\ndef add(a, b):\n    return a + b\n```"
    recs = [{"text": good, "score": 3.0}, {"text": "x", "score": 5.0}]
    detail = sc.score_many_detailed([ScoreItem(PROMPT, [good, "x"], inst, recs)])[0]
    assert detail[0] == {"execution": 1.0, "input": 3.0, "total": pytest.approx(1.3)}
    assert detail[1] == {"execution": 0.0, "input": 5.0, "total": pytest.approx(0.5)}
    assert set(sc.identity()["components"]) == {"execution", "input"}
    with pytest.raises(ValueError, match="needs weights"):
        ScorerConfig(kind="weighted")
