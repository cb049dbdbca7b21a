"""Train the difficulty estimator and write app/quality/artifacts/estimator.json; print held-out figures.

    pip install -e '.[train]'
    python scripts/train_estimator.py [--data-dir DIR] [--out FILE] [--check]
    python scripts/train_estimator.py --select

--check trains in memory and compares with the shipped artifact instead of writing it.
--select prints the cross-validated APGR (training rows only, nothing held out is read) of every
(n-gram scale, C) pair in training.SELECT_GRID per domain: how training.DOMAIN_PARAMS was chosen.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app.quality.dataset import default_data_dir
from app.quality.estimator import ARTIFACT_PATH
from app.quality.training import select, size_bytes, train


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--out", type=Path, default=ARTIFACT_PATH)
    parser.add_argument("--check", action="store_true",
                        help="compare with the shipped artifact, write nothing")
    parser.add_argument("--select", action="store_true",
                        help="cross-validate the hyper-parameter grid on the training rows, write nothing")
    args = parser.parse_args()

    if args.select:
        print(f"{'domain':<8}{'n-gram scale':>13}{'C':>6}{'CV APGR':>9}")
        for row in select(args.data_dir):
            print(f"{row['domain']:<8}{row['term_scale']:>13}{row['C']:>6}{row['apgr']:>9.3f}", flush=True)
        return 0

    artifact = train(args.data_dir)
    meta = artifact["meta"]
    terms = {name: len(block["vocabulary"]) for name, block in artifact["domains"].items()}
    print(f"vocabulary {terms} terms, artifact {size_bytes(artifact) / 1e6:.2f} MB")
    for name, cv in meta["cross_validation"].items():
        print(f"cross-validated on {cv['rows']} training rows, {name}: APGR by length weight "
              f"{cv['apgr_by_length_weight']} (length alone {cv['length_apgr']:.3f}); "
              f"chose {cv['length_weight']}")
    print(f"{'held-out':<10}{'rows':>6}{'CPT(50%)':>10}{'CPT(80%)':>10}{'APGR':>8}"
          "   length: CPT(50%) CPT(80%) APGR")
    for name, f in meta["heldout"].items():
        print(f"{name:<10}{f['rows']:>6}{f['cpt50']:>10.1%}{f['cpt80']:>10.1%}{f['apgr']:>8.3f}"
              f"   {f['length_cpt50']:>15.1%}{f['length_cpt80']:>9.1%}{f['length_apgr']:>6.3f}")
    if args.check:
        shipped = json.loads(args.out.read_text(encoding="utf-8"))
        same = shipped == json.loads(json.dumps(artifact))
        print("matches the shipped artifact" if same else "DIFFERS from the shipped artifact")
        return 0 if same else 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(artifact, separators=(",", ":"), sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
