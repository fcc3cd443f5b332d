# Copyright 2026 The specprune_ros Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""``specprune-demo``: run a built-in policy on the real LIBERO fixture and print the chunk."""

from __future__ import annotations

import argparse
import logging

import numpy as np

from specprune_ros.config import PRESETS
from specprune_ros.fixtures import load_observation
from specprune_ros.policy import VLAPolicy

log = logging.getLogger('specprune_demo')


def format_chunk(actions: np.ndarray) -> str:
    """An H×D action chunk as an aligned table."""
    head = '  step ' + ' '.join(f'{n:>8}' for n in ('dx', 'dy', 'dz', 'drx', 'dry', 'drz',
                                                    'grip')[:actions.shape[1]])
    rows = [f'  {h:>4} ' + ' '.join(f'{v:8.4f}' for v in row) for h, row in enumerate(actions)]
    return '\n'.join([head, *rows])


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--preset', default='tiny', choices=sorted(PRESETS))
    parser.add_argument('--fixture', default=None, help='fixture folder (default: shared/)')
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(message)s')

    policy = VLAPolicy.from_preset(args.preset, device=args.device)
    obs = load_observation(args.fixture)
    policy.predict_action_chunk(obs)  # warm-up
    actions, report = policy.predict_action_chunk(obs)
    log.info('task: %s', obs.instruction)
    log.info('action chunk (%d x %d, un-normalised):\n%s', *actions.shape,
             format_chunk(actions))
    log.info('tokens: %d in sequence, %d visual', report.tokens_total, report.visual_tokens)
    log.info('timings ms: preprocess %.1f | vision %.1f | llm %.1f | head %.1f | total %.1f',
             report.preprocess_ms, report.vision_ms, report.llm_ms, report.head_ms,
             report.total_ms)
    return 0 if np.isfinite(actions).all() else 1


if __name__ == '__main__':
    raise SystemExit(main())
