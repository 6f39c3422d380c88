#!/usr/bin/env bash
# The CPT pilot of issue 20 ("completion-mode prompts that end in a bare newline"), rerunnable; not part of CI.
#
# 40 CPT steps of the bundled tiny model (8 x 512 tokens, lr 3e-4, FIM off) on ~600 Python standard-library files,
# then HumanEval (first 40 tasks, 96 new tokens) for the base and the CPT model, once with the raw prompt
# (generation.prompt_tail=keep, the old behaviour) and once with the default (strip). Prints mean output tokens.
# About 30-60 minutes on a 2-core CPU. Usage: scripts/pilot_prompt_tail.sh [OUT_DIR]   (default /tmp/codeja-pilot)
set -euo pipefail
OUT=${1:-/tmp/codeja-pilot}
CODEJA=${CODEJA:-codeja}
mkdir -p "$OUT"

cat > "$OUT/curate.yaml" <<'EOF'
stage: curate
sources:
  - {name: stdlib, kind: files, path: stdlib, glob: "**/*.py", limit: 600, seed: 0}
executor: {kind: local, tasks: 2, workers: 2, start_method: fork}
progress: false
EOF

[ -f "$OUT/curated/manifest.json" ] || $CODEJA curate run "$OUT/curate.yaml" -o "$OUT/curated"
[ -f "$OUT/tok/stdlib.idx" ] || $CODEJA tokenize --input "$OUT/curated/kept" --model tiny --output "$OUT/tok/stdlib" --quiet
[ -d "$OUT/cpt/model" ] || $CODEJA train cpt --model tiny --data "$OUT/tok/stdlib" -o "$OUT/cpt" --max-steps 40 \
    --seq-len 512 --set per_device_batch_size=8 --set fim.mode=off --set optim.learning_rate=3e-4

for tail in keep strip; do
  $CODEJA eval run -m tiny -m "$OUT/cpt/model" --benchmarks humaneval --limit 40 --max-new-tokens 96 \
      -o "$OUT/eval-$tail" --set "generation.prompt_tail=$tail" > "$OUT/eval-$tail.log"
done

python3 - "$OUT" <<'EOF'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
print("| prompt_tail | model | mean output tokens | samples of 1 token | pass@1 |")
print("|---|---|---|---|---|")
for tail in ("keep", "strip"):
    for model in ("tiny", "model"):
        rows = [json.loads(x) for x in (out / f"eval-{tail}" / model / "humaneval" / "generations.jsonl").open()]
        toks = [r["completion_tokens"] for r in rows]
        res = json.loads((out / f"eval-{tail}" / model / "humaneval" / "results.json").read_text())
        name = "base" if model == "tiny" else "cpt"
        print(f"| {tail} | {name} | {sum(toks) / len(toks):.1f} | {sum(t <= 1 for t in toks)}/{len(toks)} | "
              f"{res['pass@1']:.3f} |")
EOF
