"""Progress that tells the truth, libraries quiet unless --verbose."""

from __future__ import annotations

import warnings

from codeja.backends import SamplingParams, get_backend


def test_generation_progress_counts_samples_and_tokens_per_second(tiny_random_model_dir, capfd):
    with get_backend(tiny_random_model_dir, "transformers", batch_size=2, progress=True) as b:
        b.complete(["a", "b", "c"], SamplingParams(max_new_tokens=4, n=2, temperature=1.0))
    err = capfd.readouterr().err
    assert "generate:" in err and "/6 " in err and "sample" in err and "tok/s" in err


def test_datatrove_info_stays_in_the_task_logs(tmp_path, capfd, monkeypatch):
    from datatrove.executor import LocalPipelineExecutor

    from codeja.log import VERBOSE_ENV, quiet_libraries

    monkeypatch.delenv(VERBOSE_ENV, raising=False)
    quiet_libraries()
    ex = LocalPipelineExecutor(pipeline=[lambda data, rank, world_size: iter(())], tasks=1, workers=1,
                               logging_dir=str(tmp_path / "logs"))
    ex.run()
    err = capfd.readouterr().err
    assert "INFO" not in err and "Launching pipeline" not in err
    assert "Launching pipeline" in (tmp_path / "logs" / "logs" / "task_00000.log").read_text()


def test_megatron_apex_warning_is_silenced(monkeypatch):
    from codeja.log import VERBOSE_ENV, quiet_libraries

    monkeypatch.delenv(VERBOSE_ENV, raising=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        quiet_libraries()
        warnings.warn("Transformer Engine and Apex are not installed. Falling back to Torch optimizers.", stacklevel=1)
    assert not caught


def test_a_skipped_stage_says_so(tmp_path, capsys):
    from codeja.runs import stage_run

    for _ in range(2):
        with stage_run(tmp_path / "out", "demo", {"a": 1}) as run:
            pass
    assert run.skipped
    err = capsys.readouterr().err
    assert f"demo: {tmp_path / 'out'} is complete with the same config and inputs; skipped" in err


def test_trainer_bars_are_labelled_and_log_dicts_stay_off_stdout(capfd, monkeypatch):
    from types import SimpleNamespace

    from codeja.log import VERBOSE_ENV, trainer_progress_class

    monkeypatch.delenv(VERBOSE_ENV, raising=False)
    cb = trainer_progress_class()()
    state = SimpleNamespace(is_world_process_zero=True, max_steps=2, global_step=0)
    cb.on_train_begin(None, state, None)
    cb.on_log(None, state, None, logs={"loss": 1.5, "grad_norm": 0.3})
    state.global_step = 2
    cb.on_step_end(None, state, None)
    cb.on_train_end(None, state, None)
    for _ in range(3):  # the evaluation after training: the cpt stage's held-out loss
        cb.on_prediction_step(None, state, None, eval_dataloader=[0, 1, 2])
    cb.on_evaluate(None, state, None)
    out = capfd.readouterr()
    assert "train:" in out.err and "loss 1.5" in out.err and "held-out eval:" in out.err and "3/3" in out.err
    assert "grad_norm" not in out.out + out.err  # the dict itself only with --verbose
