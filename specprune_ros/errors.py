"""Exceptions raised by the policy core: each says what was wrong and what is expected."""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.


class SpecPruneError(Exception):
    """Base class of every specprune_ros error."""


class InputError(SpecPruneError, ValueError):
    """A bad observation: image, proprio vector or instruction."""


class ModelConfigError(SpecPruneError, ValueError):
    """An unknown preset or an inconsistent model configuration."""


class CheckpointError(SpecPruneError, ValueError):
    """Missing, corrupt or mismatching model files."""


class ConfigError(SpecPruneError, ValueError):
    """An invalid parameter value (of any schema config): which one, and what is allowed."""
