"""``specprune-bench``: pruned vs dense, side by side on the same inputs, as ratios.

The dense policy, the SpecPrune engine and (by default, for the main configuration) the eager
all-maps baseline run alternately on each observation of the synthetic moving sequence, after
a warm-up (:mod:`specprune_ros.tools.bench.pairs`). Every figure is a ratio within one group,
and the report gives the medians; per-stage times come from CUDA events on a GPU. The model is
a built-in preset (random weights of the real shape) or a checkpoint loaded with
``specprune_ros.vla.checkpoint.load_policy``. ``--cuda-graphs`` needs a CUDA device: on a CPU
the bench refuses with exit code 2. On a known GPU it also prints the roofline time of each
step's token counts and the fraction of it reached (:mod:`specprune_ros.tools.bench.roofline`).

This module is the command line (building the parser imports no torch, so ``--help`` is
instant); :mod:`specprune_ros.tools.bench.run` runs it.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import argparse
from pathlib import Path

from specprune_ros.vla.config import PRESETS


def parser() -> argparse.ArgumentParser:
    """The command line of specprune-bench."""
    parser = argparse.ArgumentParser(prog='specprune-bench', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument('--preset', default=None, choices=sorted(PRESETS),
                        help='built-in model (default: small)')
    source.add_argument('--checkpoint', type=Path, default=None,
                        help='OpenVLA-OFT checkpoint directory (load_policy)')
    parser.add_argument('--unnorm-key', default=None, help='statistics key of the checkpoint')
    parser.add_argument('--device', default='cpu', choices=('cpu', 'cuda', 'auto'),
                        help="'auto': cuda when available, else cpu")
    parser.add_argument('--steps', type=int, default=12, help='measured groups per config')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--alpha', type=float, default=None, help='default: the schema')
    parser.add_argument('--cuda-graphs', action='store_true',
                        help='replay CUDA graphs for the dense and the pruned step (CUDA only)')
    parser.add_argument('--token-bucket', type=int, default=None,
                        help='round the static cut up to a multiple of this (0 = exact)')
    parser.add_argument('--sync-free', action='store_true',
                        help='size the static cut by its bound: no host read in the step')
    parser.add_argument('--camera-size', type=int, default=None,
                        help='feed NxN frames (JPEG round trip + Lanczos to 224 in preprocess)')
    parser.add_argument('--no-eager-baseline', action='store_true',
                        help='skip the eager output_attentions baseline')
    parser.add_argument('--peak-tflops', type=float, default=None,
                        help='override the dense 16-bit peak of the roofline')
    parser.add_argument('--peak-bandwidth', type=float, default=None,
                        help='override the memory bandwidth of the roofline (GB/s)')
    parser.add_argument('--sweep', type=float, nargs='*', default=None,
                        help='alpha values for the Table-3 style sweep')
    parser.add_argument('--ablation', action='store_true', help='Table-2 style ablation')
    parser.add_argument('--json', type=Path, default=None)
    parser.add_argument('--plot', type=Path, default=None, help='PNG of sweep/ablation')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    return parser


def main(argv: list[str] | None = None) -> int:
    """Console entry point: parse (``--help`` exits here), then run the bench."""
    args = parser().parse_args(argv)
    from specprune_ros.tools.bench.run import run

    return run(args)


if __name__ == '__main__':
    raise SystemExit(main())
