"""Compare our policy with OpenVLA-OFT's own inference output (``fixtures/oft_reference``).

``python -m specprune_ros.tools.oft_check`` loads the reference checkpoint, runs the real LIBERO
fixture through the plain policy and through the SpecPrune engine keeping every token, and
prints how far the crops, pixels, action-head input and actions are from
``oft_fp32_outputs.npz`` (written by openvla-oft's ``get_vla_action``, float32).
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
from dataclasses import dataclass
import logging
import os
from pathlib import Path

import numpy as np
import torch

from specprune_ros.specprune.engine import SpecPruneEngine
from specprune_ros.specprune.params import SpecPruneConfig
from specprune_ros.tools.fixtures import load_observation
from specprune_ros.vla.checkpoint import load_policy
from specprune_ros.vla.policy import Observation, VLAPolicy

logger = logging.getLogger(__name__)

REFERENCE_ENV = 'SPECPRUNE_OFT_REFERENCE'
UNNORM_KEY = 'libero_spatial_no_noops'  # what the reference run used
_DEFAULT = Path('shared') / 'fixtures' / 'oft_reference'
CROP_KEYS = ('cropped_third', 'cropped_wrist')


def reference_dir(path: str | os.PathLike | None = None) -> Path:
    """The reference folder: ``path``, $SPECPRUNE_OFT_REFERENCE, or ../shared by the checkout."""
    candidates = [Path(path)] if path else []
    if os.environ.get(REFERENCE_ENV):
        candidates.append(Path(os.environ[REFERENCE_ENV]))
    root = Path(__file__).resolve().parents[2]
    candidates += [root.parent / _DEFAULT, root / _DEFAULT]
    for cand in candidates:
        if (cand / 'oft_fp32_outputs.npz').is_file() and (cand / 'checkpoint').is_dir():
            return cand
    raise FileNotFoundError(f'OFT reference not found in {[str(c) for c in candidates]}; '
                            f'expected oft_fp32_outputs.npz and checkpoint/ (set {REFERENCE_ENV})')


@dataclass(frozen=True)
class OftComparison:
    """How far one run is from OFT's output."""

    path: str  # 'plain' or 'specprune-keep-all'
    crop_mismatch: float  # fraction of crop values (both views) that differ
    crop_max: int  # largest crop difference in uint8 steps
    pixels_max: float  # max |pixel_values − OFT's|
    head_in_max: float  # max |action-head input − OFT's head_in|
    actions_max: float  # max |un-normalised actions − OFT's|
    visual_kept: int  # visual tokens the LLM saw

    def summary(self) -> str:
        """One line of figures."""
        return (f'{self.path}: actions max abs diff {self.actions_max:.3g}, head_in '
                f'{self.head_in_max:.3g}, pixel_values {self.pixels_max:.3g}, crops '
                f'{self.crop_mismatch:.4%} of values differ (max {self.crop_max}), '
                f'{self.visual_kept} visual tokens kept')


def run_ours(policy: VLAPolicy, obs: Observation, engine: SpecPruneEngine | None = None
             ) -> dict[str, np.ndarray]:
    """Our crops, ``pixel_values`` (1, 2·V·3, S, S as OFT stacks them), ``head_in``, actions."""
    seen: list[torch.Tensor] = []
    handle = policy.model.action_head.register_forward_pre_hook(
        lambda _module, args: seen.append(args[0].detach().float().cpu()))
    try:
        run = engine.predict_action_chunk if engine is not None else policy.predict_action_chunk
        actions, report = run(obs)
    finally:
        handle.remove()
    prep = policy.prepare(obs)  # the same preprocessing again, for the pixels
    pixels = torch.cat([torch.cat([d, s]) for d, s in zip(prep.pixels_dino, prep.pixels_siglip)])
    cfg = policy.cfg
    return {CROP_KEYS[0]: report.images[0], CROP_KEYS[1]: report.images[1],
            'pixel_values': pixels.float().cpu().numpy()[None],
            'head_in': seen[0].reshape(1, cfg.horizon, -1).numpy(),
            'actions': actions, 'visual_kept': np.asarray(report.visual_kept)}


def compare(path: str, ours: dict[str, np.ndarray], ref: dict[str, np.ndarray]
            ) -> OftComparison:
    """Figures of ``ours`` (from :func:`run_ours`) against the reference arrays."""
    crops = np.concatenate([np.abs(ours[k].astype(np.int16) - ref[k].astype(np.int16)).ravel()
                            for k in CROP_KEYS])

    def worst(key: str) -> float:
        return float(np.abs(ours[key].astype(np.float64) - ref[key].astype(np.float64)).max())

    return OftComparison(path, float(np.mean(crops > 0)), int(crops.max()), worst('pixel_values'),
                         worst('head_in'), worst('actions'), int(ours['visual_kept']))


def keep_all_config() -> SpecPruneConfig:
    """SpecPrune on, with budgets that keep every token (the parity path)."""
    return SpecPruneConfig(k_coarse=4096, k_fine=4096, keep_ratio=1.0, alpha=1.0)


def check(reference: str | os.PathLike | None = None, device: str = 'cpu',
          dtype: str = 'float32') -> list[OftComparison]:
    """Load the reference checkpoint and compare the plain and the keep-all SpecPrune runs."""
    root = reference_dir(reference)
    with np.load(root / 'oft_fp32_outputs.npz') as npz:
        ref = {k: npz[k] for k in npz.files}
    policy, _ = load_policy(root / 'checkpoint', unnorm_key=UNNORM_KEY, device=device,
                            dtype=dtype, center_crop=True, progress=False)
    obs = load_observation()
    plain = compare('plain', run_ours(policy, obs), ref)
    engine = SpecPruneEngine(policy, keep_all_config())
    pruned = compare('specprune-keep-all', run_ours(policy, obs, engine), ref)
    return [plain, pruned]


def main(argv: list[str] | None = None) -> int:
    """Print the figures; exit 1 when the actions are off by more than ``--tol``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--reference', help=f'reference folder (default: ${REFERENCE_ENV} or '
                        '../shared/fixtures/oft_reference)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--dtype', default='float32', choices=('float32', 'bfloat16'))
    parser.add_argument('--tol', type=float, default=1e-3, help='actions tolerance')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    results = check(args.reference, args.device, args.dtype)
    for result in results:
        print(result.summary())
    return 0 if all(r.actions_max <= args.tol for r in results) else 1


if __name__ == '__main__':
    raise SystemExit(main())
