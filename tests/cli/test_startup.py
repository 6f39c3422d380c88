"""`codeja --help` stays fast: importing the CLI loads no heavy library (they load when a command runs).

Run in a fresh interpreter: the test session has long since imported torch and friends.
"""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "megatron", "vllm", "llama_cpp", "gguf",
         "matplotlib", "datatrove", "lingua", "tree_sitter", "scipy", "datasketch", "pyarrow", "tokenizers",
         "huggingface_hub", "numpy")


def test_cli_import_loads_no_heavy_library():
    code = "import sys, codeja.cli; print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
                 .stdout.split())
    assert "codeja" in loaded
    assert sorted(loaded & set(HEAVY)) == []
