"""Conversions between ROS messages and the policy core's numpy / EEState types.

No rclpy here. The parsing functions read only message attributes, so they accept rclpy
messages, rosbags messages and simple stand-ins alike. The builders import ``sensor_msgs`` and
``builtin_interfaces`` lazily, when they are called.

Image parsing is pure numpy and exact (the default); ``cv_bridge`` is used only when asked for
with ``use_cv_bridge=True`` and importable (it is not on PyPI).
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from collections.abc import Sequence
import io
import math
from typing import Any

import numpy as np
from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from specprune_ros.errors import InputError
from specprune_ros.vla.state import EEState

#: Channels of each supported 8-bit ``sensor_msgs/Image`` encoding.
ENCODING_CHANNELS: dict[str, int] = {'rgb8': 3, 'bgr8': 3, 'rgba8': 4, 'bgra8': 4, 'mono8': 1}
SUPPORTED_ENCODINGS: tuple[str, ...] = tuple(ENCODING_CHANNELS)
#: Formats ``compressed_msg_to_rgb`` decodes (Pillow format names).
COMPRESSED_FORMATS: tuple[str, ...] = ('JPEG', 'PNG')

_CV_BRIDGE: Any = None


def _size_tuple(expected_size: int | Sequence[int]) -> tuple[int, int]:
    """``expected_size`` as (height, width); an int means a square image."""
    if isinstance(expected_size, (int, np.integer)):
        return int(expected_size), int(expected_size)
    size = tuple(int(v) for v in expected_size)
    if len(size) != 2:
        raise InputError(f'expected_size must be an int or (height, width), got {expected_size!r}')
    return size[0], size[1]


def _check_size(rgb: np.ndarray, expected_size: int | Sequence[int] | None, what: str) -> None:
    if expected_size is None:
        return
    want = _size_tuple(expected_size)
    got = rgb.shape[:2]
    if tuple(got) != want:
        raise InputError(f'{what}: wrong image size: got {got[0]}x{got[1]} (height x width), '
                         f'expected {want[0]}x{want[1]}')


def _as_bytes_array(data: Any) -> np.ndarray:
    """Return the message's ``data`` field as a flat uint8 array (no copy where possible)."""
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8:
            raise InputError(f'image data must be uint8, got dtype {data.dtype}')
        return data.reshape(-1)
    if isinstance(data, (bytes, bytearray, memoryview)) or hasattr(data, 'buffer_info'):
        return np.frombuffer(data, dtype=np.uint8)  # bytes, array.array('B') (rclpy)
    try:
        return np.asarray(data, dtype=np.uint8).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise InputError(f'image data must be bytes or a uint8 sequence, got '
                         f'{type(data).__name__}') from exc


def _cv_bridge() -> Any:
    """Return a cached ``cv_bridge.CvBridge``, or None when cv_bridge is not importable."""
    global _CV_BRIDGE
    if _CV_BRIDGE is None:
        try:
            from cv_bridge import CvBridge  # type: ignore[import-not-found]
        except ImportError:
            _CV_BRIDGE = False
        else:
            _CV_BRIDGE = CvBridge()
    return _CV_BRIDGE or None


def image_msg_to_rgb(msg: Any, expected_size: int | Sequence[int] | None = None, *,
                     use_cv_bridge: bool = False) -> np.ndarray:
    """Decode a ``sensor_msgs/Image`` into a new (H, W, 3) uint8 RGB array.

    Supports the 8-bit encodings of :data:`SUPPORTED_ENCODINGS`: ``bgr8``/``bgra8`` are
    swapped to RGB, alpha is dropped, ``mono8`` is repeated into three channels. Row padding
    (``step`` > width * channels) is removed; ``is_bigendian`` does not matter for 8-bit data.
    ``expected_size`` is ``(height, width)`` or an int for a square image. Raises
    :class:`InputError` for other encodings, inconsistent ``step``/``data`` and wrong sizes.
    """
    encoding = str(getattr(msg, 'encoding', '')).strip()
    key = encoding.lower()
    if key not in ENCODING_CHANNELS:
        raise InputError(f'unsupported image encoding {encoding!r}; supported encodings: '
                         f'{", ".join(SUPPORTED_ENCODINGS)}')
    channels = ENCODING_CHANNELS[key]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        raise InputError(f'image must be non-empty, got height={height} width={width}')
    if step < width * channels:
        raise InputError(f'image step {step} is smaller than width * channels = '
                         f'{width} * {channels} = {width * channels} ({encoding})')
    if use_cv_bridge and _cv_bridge() is not None:
        rgb = np.ascontiguousarray(_cv_bridge().imgmsg_to_cv2(msg, desired_encoding='rgb8'))
        _check_size(rgb, expected_size, 'image')
        return rgb
    flat = _as_bytes_array(msg.data)
    if flat.size != step * height:
        raise InputError(f'image data has {flat.size} bytes, expected step * height = '
                         f'{step} * {height} = {step * height} ({encoding})')
    pix = flat.reshape(height, step)[:, :width * channels].reshape(height, width, channels)
    if key == 'rgb8':
        rgb = pix.copy()
    elif key == 'mono8':
        rgb = np.repeat(pix, 3, axis=2)
    elif key == 'rgba8':
        rgb = np.ascontiguousarray(pix[:, :, :3])
    else:  # bgr8, bgra8
        rgb = np.ascontiguousarray(pix[:, :, 2::-1])
    _check_size(rgb, expected_size, 'image')
    return rgb


def compressed_msg_to_rgb(msg: Any, expected_size: int | Sequence[int] | None = None
                          ) -> np.ndarray:
    """Decode a ``sensor_msgs/CompressedImage`` (JPEG or PNG) into (H, W, 3) uint8 RGB.

    The ``format`` field is informative only; the data itself is identified by Pillow. Raises
    :class:`InputError` on undecodable data, other formats and wrong sizes.
    """
    fmt = str(getattr(msg, 'format', ''))
    raw = bytes(_as_bytes_array(msg.data))
    if not raw:
        raise InputError(f'compressed image (format {fmt!r}) has no data')
    try:
        with PILImage.open(io.BytesIO(raw)) as im:
            kind = im.format
            if kind not in COMPRESSED_FORMATS:
                raise InputError(f'compressed image format {kind or fmt!r} is not supported; '
                                 f'supported: {", ".join(f.lower() for f in COMPRESSED_FORMATS)}')
            rgb = np.asarray(im.convert('RGB'), dtype=np.uint8).copy()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f'cannot decode compressed image (format {fmt!r}, {len(raw)} bytes): '
                         f'{exc}') from exc
    _check_size(rgb, expected_size, 'compressed image')
    return rgb


def _check_rgb(array: Any) -> np.ndarray:
    arr = np.asarray(array)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise InputError(f'image must be an (H, W, 3) uint8 RGB array, got shape {arr.shape} '
                         f'dtype {arr.dtype}')
    return np.ascontiguousarray(arr)


def stamp_to_sec(stamp: Any) -> float:
    """Return the seconds of a ``builtin_interfaces/Time``-like object (sec + nanosec)."""
    return float(stamp.sec) + float(stamp.nanosec) * 1e-9


def _split_sec(t: float) -> tuple[int, int]:
    """Seconds as (sec, nanosec) with 0 <= nanosec < 1e9, rounded to the nanosecond."""
    t = float(t)
    if not math.isfinite(t):
        raise InputError(f'time must be a finite number of seconds, got {t!r}')
    total = round(t * 1e9)
    sec, nanosec = divmod(total, 1_000_000_000)
    if not -2**31 <= sec < 2**31:
        raise InputError(f'time {t!r} s does not fit builtin_interfaces/Time (int32 seconds)')
    return int(sec), int(nanosec)


def sec_to_stamp(t: float) -> Any:
    """Build a ``builtin_interfaces.msg.Time`` of ``t`` seconds (nanosecond rounding)."""
    from builtin_interfaces.msg import Time

    sec, nanosec = _split_sec(t)
    return Time(sec=sec, nanosec=nanosec)


def _to_stamp(stamp: Any) -> Any:
    """``stamp`` (None, seconds or a Time-like object) as ``builtin_interfaces.msg.Time``."""
    from builtin_interfaces.msg import Time

    if stamp is None:
        return Time()
    if hasattr(stamp, 'sec') and hasattr(stamp, 'nanosec'):
        return stamp if isinstance(stamp, Time) else Time(sec=int(stamp.sec),
                                                          nanosec=int(stamp.nanosec))
    return sec_to_stamp(stamp)


def rgb_to_image_msg(array: Any, stamp: Any = None, frame_id: str = '') -> Any:
    """Build a ``sensor_msgs.msg.Image`` (rgb8, no row padding) of an (H, W, 3) uint8 array.

    ``stamp`` may be None (zero time), seconds (float) or a ``builtin_interfaces`` Time.
    """
    import array as pyarray

    from sensor_msgs.msg import Image

    rgb = _check_rgb(array)
    msg = Image()
    msg.header.stamp = _to_stamp(stamp)
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(rgb.shape[0]), int(rgb.shape[1])
    msg.encoding = 'rgb8'
    msg.is_bigendian = 0
    msg.step = int(rgb.shape[1]) * 3
    msg.data = pyarray.array('B', rgb.tobytes())
    return msg


def ee_state_to_pose_msg(state: EEState, frame_id: str = '', stamp: Any = None) -> Any:
    """Build a ``geometry_msgs.msg.PoseStamped`` of ``state`` (``stamp`` overrides its stamp)."""
    from geometry_msgs.msg import PoseStamped

    msg = PoseStamped()
    msg.header.stamp = _to_stamp(state.stamp if stamp is None else stamp)
    msg.header.frame_id = frame_id
    p, q = state.position, state.orientation
    msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = (float(v) for v in p)
    (msg.pose.orientation.x, msg.pose.orientation.y, msg.pose.orientation.z,
     msg.pose.orientation.w) = (float(v) for v in q)
    return msg


def pose_msg_to_ee_state(msg: Any) -> EEState:
    """Convert a ``geometry_msgs/PoseStamped`` to an :class:`EEState` (stamp from the header).

    Raises :class:`InputError` for non-finite positions and NaN/inf/zero quaternions.
    """
    stamp = stamp_to_sec(msg.header.stamp)
    p, o = msg.pose.position, msg.pose.orientation
    position = np.array([p.x, p.y, p.z], dtype=np.float64)
    quat = np.array([o.x, o.y, o.z, o.w], dtype=np.float64)
    if not np.all(np.isfinite(position)):
        raise InputError(f'EE pose position must be finite, got {position.tolist()}')
    if not np.all(np.isfinite(quat)):
        raise InputError(f'EE pose orientation quaternion (x, y, z, w) must be finite, got '
                         f'{quat.tolist()}')
    if float(np.linalg.norm(quat)) < 1e-12:
        raise InputError('EE pose orientation quaternion (x, y, z, w) is zero; a valid '
                         'orientation needs a non-zero quaternion (identity is 0, 0, 0, 1)')
    try:
        return EEState(stamp, position, quat)
    except ValueError as exc:
        raise InputError(f'invalid EE pose: {exc}') from exc
