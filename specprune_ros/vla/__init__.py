"""The OpenVLA-OFT-family model: everything needed to turn an observation into an action chunk.

Holds the model configuration and presets (``config``), the vision towers (``vision``), the
projectors and the L1-regression action head (``heads``), the explicit token layout
(``layout``), tokenizers and the OFT prompt (``tokenizer``), OFT image preprocessing
(``preprocess``), the decoder layer loop with its pruning seam (``model``), the policy API
(``policy``) and its per-step report (``report``), a fixed visual-token cut (``cut``), built-in
save/load (``model_io``) and the OpenVLA-OFT checkpoint loader with its timm key map
(``checkpoint``, ``timm_keys``).

Also the action space of LIBERO-trained policies (``action_space``: dimensions, units, the
gripper rule), which the executor, the bridge, the evaluation and training share.

May import: ``specprune_ros.errors`` and ``specprune_ros.schema`` only; nothing else of ours,
and never rclpy.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.
