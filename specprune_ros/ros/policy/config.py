"""Node-level parameters of ``specprune_policy`` and the schema of every ROS parameter.

The node's ROS parameters are exactly ``schema(NodeConfig) + schema(SpecPruneConfig)``
(:func:`all_specs`); ``config/policy.yaml`` and ``config/presets/*.yaml`` are generated from
them by ``scripts/gen_config.py``. ROS-free (no rclpy, no torch).

Action clamp: ``action_low``/``action_high`` bound each action dimension after
un-normalisation. The defaults (all seven dims in [-1, 1]) are the range of LIBERO's delta
actions: dx, dy, dz, d-axis-angle (x, y, z) in normalised controller units and the gripper
command (-1 open, +1 close). One value applies to every dimension; otherwise give one value
per action dimension (checked against the model when the node is configured).

Empty integer lists (``prune_layers``, ``update_layers``) are declared without a value (ROS
cannot type an empty list); "not set" means the empty tuple, i.e. the automatic layer sets.
``ros2 param dump`` writes such a parameter as ``null``, which rcl reads back as the string
``'null'``: that string (and ``~``, YAML's other null) means "not set" too, so a dumped file
loads back. Explicit layer lists are checked against the loaded model (:func:`check_fit`).
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from specprune_ros.errors import ConfigError
from specprune_ros.ros.common.param_values import (  # noqa: F401  (re-exported)
    describe,
    from_ros_value,
    to_ros_value,
    type_text,
    YAML_NULLS,
    yaml_scalar,
)
from specprune_ros.ros.policy.trigger import TRIGGER_MODES
from specprune_ros.schema import param as _p
from specprune_ros.schema import ParamSpec, schema, SchemaConfig
from specprune_ros.specprune.params import SpecPruneConfig
from specprune_ros.vla.action_space import LIBERO_ACTION_DIM
from specprune_ros.vla.config import PRESETS

MODEL_PRESETS = tuple(PRESETS)  # built-in model presets
DEVICES = ('auto', 'cpu', 'cuda')
PROPRIO_DIM = 8  # EE position (3), axis-angle (3), gripper (2)


@dataclass(frozen=True)
class NodeConfig(SchemaConfig):
    """Parameters of the node itself (model source, inputs, safety, diagnostics)."""

    # --- model (read at configure time) ---
    model_preset: str = _p('tiny', 'Built-in random-initialised model used when checkpoint '
                           'is empty.', read_only=True, group='model', choices=MODEL_PRESETS)
    checkpoint: str = _p('', 'OpenVLA-OFT checkpoint directory (or a folder written by '
                         'model_io.save_pretrained); empty = the built-in model_preset.',
                         read_only=True, group='model')
    unnorm_key: str = _p('', 'Dataset key of the action/proprio statistics in the checkpoint; '
                         'empty = the only key.', read_only=True, group='model')
    device: str = _p('auto', 'Torch device: auto = cuda when available, else cpu.',
                     read_only=True, group='model', choices=DEVICES)
    seed: int = _p(0, 'Seed of the built-in model weights.', lo=0, hi=2**31 - 1,
                   read_only=True, group='model')
    # --- task ---
    instruction: str = _p('', 'Task instruction; the newest of this parameter and the '
                          '~/instruction topic is used. A new instruction starts a new episode '
                          '(engine reset).', group='task')
    # --- inputs ---
    input_timeout: float = _p(0.5, 'Watchdog: no action is published while any camera or the '
                              'EE state is older than this (time since receipt).', unit='s',
                              lo=0.01, hi=3600.0, group='inputs')
    sync_slop: float = _p(0.03, 'Approximate-time sync: largest stamp spread of the two '
                          'images and the EE state in one set.', unit='s', lo=0.0, hi=10.0,
                          group='inputs')
    sync_queue_size: int = _p(10, 'Messages buffered per input for the sync (bounded).',
                              unit='messages', lo=1, hi=1000, read_only=True, group='inputs')
    trigger_mode: str = _p('continuous', 'When inference runs: continuous = on every new '
                           'synchronised set; on_request = once per std_msgs/Header on ~/request, '
                           'on the newest set (what specprune_executor sends when its chunk runs '
                           'low).', group='inputs', choices=TRIGGER_MODES)
    compressed_images: bool = _p(False, 'Subscribe to sensor_msgs/CompressedImage on '
                                 '<camera>/image_raw/compressed instead of raw images.',
                                 read_only=True, group='inputs')
    # --- outputs ---
    action_low: tuple[float, ...] = _p((-1.0,) * LIBERO_ACTION_DIM, 'Per-dimension lower '
                                       'clamp of published actions (one value = all dims).',
                                       unit='action units', lo=-1e6, hi=1e6, group='outputs')
    action_high: tuple[float, ...] = _p((1.0,) * LIBERO_ACTION_DIM, 'Per-dimension upper '
                                        'clamp of published actions (one value = all dims).',
                                        unit='action units', lo=-1e6, hi=1e6,
                                        group='outputs')
    action_frame_id: str = _p('', 'header.frame_id of action chunks; empty = the EE state '
                              "message's frame_id.", group='outputs')
    publish_debug_image: bool = _p(True, 'Publish ~/debug/kept_tokens (rendered off the '
                                   'inference thread, newest step only).', group='outputs')
    # --- lifecycle and diagnostics ---
    autostart: bool = _p(True, 'Configure and activate on start-up (false: wait for '
                         'lifecycle transitions).', read_only=True, group='lifecycle')
    diagnostics_period: float = _p(1.0, 'Period of /diagnostics.', unit='s', lo=0.05,
                                   hi=60.0, read_only=True, group='lifecycle')
    summary_period: float = _p(10.0, 'Period of the timing summary in the log; 0 = off.',
                               unit='s', lo=0.0, hi=3600.0, read_only=True, group='lifecycle')

    def __post_init__(self) -> None:
        """Validate fields and the clamp bounds."""
        super().__post_init__()
        low, high = self.action_low, self.action_high
        if not low or not high:
            raise ConfigError('action_low and action_high need at least one value')
        if len(low) != len(high) and 1 not in (len(low), len(high)):
            raise ConfigError(f'action_low has {len(low)} values and action_high {len(high)}; '
                              'give the same number (or one value for all dims)')
        for i, (lo, hi) in enumerate(zip(*self._broadcast(max(len(low), len(high))))):
            if lo > hi:
                raise ConfigError(f'action_low[{i}]={lo} is above action_high[{i}]={hi}')

    def _broadcast(self, dim: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
        low = self.action_low * dim if len(self.action_low) == 1 else self.action_low
        high = self.action_high * dim if len(self.action_high) == 1 else self.action_high
        return low, high

    def action_bounds(self, action_dim: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """(low, high) with ``action_dim`` values each, or ConfigError if they do not fit."""
        low, high = self._broadcast(action_dim)
        if len(low) != action_dim or len(high) != action_dim:
            raise ConfigError(f'action_low/action_high have {len(self.action_low)}/'
                              f'{len(self.action_high)} values but the model has action_dim='
                              f'{action_dim}; give {action_dim} values (or one)')
        return low, high


def all_specs() -> tuple[ParamSpec, ...]:
    """Every ROS parameter of the node: node parameters first, then the pruner's."""
    return schema(NodeConfig) + schema(SpecPruneConfig)


def spec_map() -> dict[str, ParamSpec]:
    """:func:`all_specs` by name."""
    return {s.name: s for s in all_specs()}


def check_fit(node_cfg: NodeConfig, prune_cfg: SpecPruneConfig, num_layers: int,
              action_dim: int) -> None:
    """ConfigError unless the parameters fit a model of ``num_layers`` and ``action_dim``.

    Explicit ``prune_layers`` must lie after the static layers and inside the model
    (``static_layer < l < num_layers``), ``update_layers`` inside it (``0 <= l < num_layers``);
    out-of-range layers are never dropped silently.
    """
    node_cfg.action_bounds(action_dim)
    first = prune_cfg.static_layer + 1
    if prune_cfg.static_layer >= num_layers:
        raise ConfigError(f'static_layer={prune_cfg.static_layer} needs a model with more than '
                          f'{prune_cfg.static_layer} layers; this one has {num_layers}')
    bad = [lay for lay in prune_cfg.prune_layers if not first <= lay < num_layers]
    if bad:
        raise ConfigError(f'prune_layers={list(prune_cfg.prune_layers)}: {bad} outside the valid '
                          f'range {first}..{num_layers - 1} for this model ({num_layers} layers, '
                          f'static_layer={prune_cfg.static_layer}); [] or null = automatic')
    bad = [lay for lay in prune_cfg.update_layers if not 0 <= lay < num_layers]
    if bad:
        raise ConfigError(f'update_layers={list(prune_cfg.update_layers)}: {bad} outside the '
                          f'valid range 0..{num_layers - 1} for this model ({num_layers} layers); '
                          '[] or null = automatic')


def apply_changes(node_cfg: NodeConfig, prune_cfg: SpecPruneConfig, changes: dict[str, Any]
                  ) -> tuple[NodeConfig, SpecPruneConfig]:
    """Both configs with ``changes`` (ROS values) applied; ConfigError names what is wrong."""
    specs = spec_map()
    unknown = sorted(set(changes) - set(specs))
    if unknown:
        raise ConfigError(f'unknown parameter(s) {unknown}')
    node_names = {s.name for s in schema(NodeConfig)}
    node_ch: dict[str, Any] = {}
    prune_ch: dict[str, Any] = {}
    for name, value in changes.items():
        target = node_ch if name in node_names else prune_ch
        target[name] = from_ros_value(specs[name], value)
    new_node = node_cfg.replace(**node_ch) if node_ch else node_cfg
    new_prune = prune_cfg.replace(**prune_ch) if prune_ch else prune_cfg
    return new_node, new_prune


def load_policy_for(node_cfg: NodeConfig, prune_cfg: SpecPruneConfig, logger: Any) -> Any:
    """(policy, engine) for ``node_cfg``: the built-in preset or ``checkpoint``.

    A ``checkpoint`` folder written by ``model_io.save_pretrained`` is loaded with
    ``model_io.load_pretrained``; any other folder as an OpenVLA-OFT checkpoint with
    ``checkpoint.load_policy``. Imports torch lazily; raises the loaders' errors and
    ConfigError when the model does not fit the node (proprio layout, action bounds).
    """
    import json
    from pathlib import Path

    from specprune_ros.specprune.engine import SpecPruneEngine
    from specprune_ros.vla.policy import VLAPolicy

    if not node_cfg.checkpoint:
        policy = VLAPolicy.from_preset(node_cfg.model_preset, device=node_cfg.device,
                                       seed=node_cfg.seed)
    else:
        from specprune_ros.vla import model_io

        root = Path(node_cfg.checkpoint).expanduser()
        try:
            fmt = json.loads((root / model_io.CONFIG_FILE).read_text()).get('format')
        except (OSError, ValueError, AttributeError):
            fmt = None
        if fmt == model_io.FORMAT:
            policy = model_io.load_pretrained(root, device=node_cfg.device)
            logger.info(f'loaded built-in model folder {root}')
        else:
            from specprune_ros.vla.checkpoint import load_policy

            policy, report = load_policy(root, unnorm_key=node_cfg.unnorm_key or None,
                                         device=node_cfg.device, progress=False)
            logger.info(report.summary())
    if policy.cfg.proprio_dim != PROPRIO_DIM:
        raise ConfigError(f'the model expects proprio_dim={policy.cfg.proprio_dim}; the node '
                          f'builds the {PROPRIO_DIM}-value LIBERO layout (EE position, '
                          'axis-angle, 2 gripper values)')
    check_fit(node_cfg, prune_cfg, policy.cfg.llm.num_layers, policy.cfg.action_dim)
    return policy, SpecPruneEngine(policy, prune_cfg)
