"""Every command, given bad input, prints a short error and exits 2: no traceback, no model loaded.

The command list is read from the Typer app, so a command added later is covered without editing this file.
"""

from __future__ import annotations

import pytest
import typer

from codeja.cli import app, main


def _leaf_commands(group, prefix=()) -> list[tuple[str, ...]]:
    out = []
    for name, cmd in sorted(group.commands.items()):
        path = (*prefix, name)
        sub = getattr(cmd, "commands", None)
        out += _leaf_commands(cmd, path) if sub else [path]
    return out


COMMANDS = _leaf_commands(typer.main.get_command(app))


def _run(argv, capsys) -> tuple[int, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


def test_the_command_tree_is_covered():
    names = {" ".join(c) for c in COMMANDS}
    assert len(COMMANDS) >= 24, names
    for expected in ("eval run", "eval score", "eval list", "generate", "run", "train cpt", "synth magpie",
                     "prefs sample", "curate run", "tokenize", "models to-gguf", "sandbox run"):
        assert expected in names


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_unknown_option_is_a_usage_error(command, capsys):
    code, text = _run([*command, "--no-such-option"], capsys)
    assert code == 2
    assert "Traceback" not in text
    assert f"Usage: codeja {' '.join(command)}" in text
    assert "error: No such option: --no-such-option" in text


@pytest.mark.parametrize("argv", [["no-such-command"], ["eval", "runn"]], ids=" ".join)
def test_unknown_command_is_a_usage_error(argv, capsys):
    code, text = _run(argv, capsys)
    assert code == 2 and "Traceback" not in text and "No such command" in text


# (argv, what the one-line error must say). None of these may load a model: names and values are checked first.
BAD_VALUES = [
    (["eval", "run", "-m", "tiny", "--limit", "abc"], "Invalid value for '--limit'"),
    (["eval", "run", "-m", "tiny", "--limit", "-1"], "limit: input should be greater than or equal to 1"),
    (["eval", "run", "-m", "tiny", "--n", "0"], "generation.n: input should be greater than or equal to 1"),
    (["eval", "run", "-m", "tiny", "--temperature", "-1"], "generation.temperature: input should be greater"),
    (["eval", "run", "-m", "tiny", "--top-p", "2"], "generation.top_p"),
    (["eval", "run", "-m", "tiny", "--mode", "chatty"], "generation.mode"),
    (["eval", "run", "-m", "tiny", "-b", "humaneva"], "unknown benchmark 'humaneva' (did you mean 'humaneval'?)"),
    (["eval", "run", "-m", "tiny", "--sanitizer", "bogus"], "unknown sanitizer 'bogus'"),
    (["eval", "run", "-m", "tiny", "--backend", "vlm"], "unknown backend 'vlm' (did you mean 'vllm'?)"),
    (["eval", "run", "-m", "no-such-model-dir"], "no such model folder"),
    (["eval", "run", "-m", "tiny", "--backend", "openai"], "needs backend_options.base_url"),
    (["eval", "score", "-b", "humaneval", "-s", "missing.jsonl", "--k", "x"], "--k 'x'"),
    (["eval", "score", "-b", "humaneval", "-s", "missing.jsonl", "--sanitizer", "nope"], "unknown sanitizer"),
    (["eval", "score", "-b", "humaneval", "-s", "missing.jsonl"], "samples not found"),
    (["generate", "-p", "x", "--n", "0"], "n must be >= 1"),
    (["generate", "-p", "x", "--max-new-tokens", "0"], "max_new_tokens must be >= 1"),
    (["generate", "-p", "x", "--backend", "transformer"], "did you mean 'transformers'?"),
    (["generate", "-p", "x", "--max-new-tokens", "lots"], "Invalid value for '--max-new-tokens'"),
    (["synth", "magpie", "--backend", "foo"], "backend: unknown backend 'foo'"),
    (["synth", "magpie", "--rows", "0"], "rows: input should be greater than or equal to 1"),
    (["synth", "magpie", "--task-types", "nonsense"], "unknown task type"),
    (["prefs", "run", "missing.yaml"], "config file not found"),
    (["train", "sft", "--data", "missing.jsonl"], "data: missing.jsonl: file not found"),
    (["train", "cpt", "--max-steps", "0"], "max_steps: input should be greater than or equal to 1"),
    (["train", "dpo", "--set", "learning_rat=1"], "unknown key"),
    (["tokenize", "--input", "missing.jsonl", "-m", "tiny", "--workers", "0"], "workers"),
    (["curate", "run", "missing.yaml"], "config file not found"),
    (["run", "missing.yaml"], "config file not found"),
    (["models", "info", "no/such-model"], "not in the local cache"),
    (["sandbox", "run", "missing.py", "--lang", "cobol"], "cobol"),
    (["sandbox", "run", "prog.py", "--lang", "python", "--timeout", "-1"], "--timeout -1.0: must be > 0"),
    (["config", "validate", "missing.yaml"], "config file not found"),
]


@pytest.mark.parametrize("argv,message", BAD_VALUES, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_bad_values_are_one_line_errors(argv, message, capsys, monkeypatch, tmp_path):
    from codeja import backends

    monkeypatch.chdir(tmp_path)

    def no_models(*a, **k):
        raise AssertionError("a model was loaded before the bad input was reported")

    monkeypatch.setattr(backends, "get_backend", no_models)
    code, text = _run(argv, capsys)
    assert code == 2, text
    assert "Traceback" not in text and "pydantic" not in text.lower()
    assert message in text
    assert "error:" in text


def test_ctrl_c_exits_130_with_a_resume_hint(monkeypatch, capsys):
    """A KeyboardInterrupt anywhere in a command is "interrupted", exit 130 (typer turns it into Exit(130))."""
    import codeja.evaluate.cli as eval_cli

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(eval_cli, "list_benchmarks", interrupted)
    code, text = _run(["eval", "list"], capsys)
    assert code == 130
    assert "interrupted; rerun the same command to resume" in text and "Traceback" not in text


def test_help_shows_no_bool_or_list_types(capsys):
    for argv in (["eval", "run", "--help"], ["generate", "--help"], ["train", "cpt", "--help"]):
        code, text = _run(argv, capsys)
        assert code == 0
        assert "<bool>" not in text and "<list[" not in text, text


def test_short_options_mean_one_thing():
    """-b is benchmark(s), -m model, -o output, -c config, wherever they appear."""
    meaning = {"-b": {"--benchmarks", "--benchmark"}, "-m": {"--model"}, "-o": {"--output"}, "-c": {"--config"}}
    root = typer.main.get_command(app)
    for path in COMMANDS:
        cmd = root
        for part in path:
            cmd = cmd.commands[part]
        for param in cmd.params:
            for short in [o for o in param.opts if o.startswith("-") and not o.startswith("--")]:
                longs = {o for o in param.opts if o.startswith("--")}
                if short in meaning:
                    assert longs & meaning[short], (path, param.opts)
