"""Tests of specprune_ros.ros.common.conversions.

ROS-free stand-ins, real messages where importable.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import array
import io
import math
import subprocess
import sys
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
from PIL import Image as PILImage
import pytest

from specprune_ros.errors import InputError
from specprune_ros.ros.common.conversions import (
    compressed_msg_to_rgb,
    image_msg_to_rgb,
    pose_msg_to_ee_state,
    stamp_to_sec,
    SUPPORTED_ENCODINGS,
)
from specprune_ros.vla.state import axis_angle_to_quat, ee_state_to_proprio, EEState

try:
    from builtin_interfaces.msg import Time
    from geometry_msgs.msg import PoseStamped
    from sensor_msgs.msg import CompressedImage, Image
    HAVE_MSGS = True
except ImportError:
    HAVE_MSGS = False
needs_msgs = pytest.mark.skipif(not HAVE_MSGS, reason='sensor_msgs/geometry_msgs/'
                                'builtin_interfaces not importable (source scripts/ros_env.sh)')

RNG = np.random.default_rng(7)
CHANNELS = {'rgb8': 3, 'bgr8': 3, 'rgba8': 4, 'bgra8': 4, 'mono8': 1}


def encode(rgb: np.ndarray, encoding: str, pad: int = 0) -> np.ndarray:
    """Pixel bytes (H, step) of ``rgb`` in ``encoding`` with ``pad`` garbage bytes per row."""
    h, w, _ = rgb.shape
    if encoding == 'mono8':
        pix = rgb[:, :, :1]
    elif encoding == 'rgb8':
        pix = rgb
    elif encoding == 'bgr8':
        pix = rgb[:, :, ::-1]
    else:
        alpha = np.full((h, w, 1), 77, np.uint8)
        pix = np.concatenate([rgb if encoding == 'rgba8' else rgb[:, :, ::-1], alpha], axis=2)
    rows = pix.reshape(h, -1)
    return np.concatenate([rows, np.full((h, pad), 0xAB, np.uint8)], axis=1)


def stand_in(rgb: np.ndarray, encoding: str, pad: int = 0, data_type=bytes) -> SimpleNamespace:
    """An object with the attributes of sensor_msgs/Image."""
    h, w, _ = rgb.shape
    rows = encode(rgb, encoding, pad)
    flat = rows.reshape(-1)
    data = {bytes: lambda: flat.tobytes(), bytearray: lambda: bytearray(flat.tobytes()),
            list: flat.tolist, np.ndarray: lambda: flat.copy(),
            array.array: lambda: array.array('B', flat.tobytes())}[data_type]()
    return SimpleNamespace(height=h, width=w, encoding=encoding, is_bigendian=1,
                           step=rows.shape[1], data=data)


def expected(rgb: np.ndarray, encoding: str) -> np.ndarray:
    return np.repeat(rgb[:, :, :1], 3, axis=2) if encoding == 'mono8' else rgb


@pytest.mark.parametrize('encoding', SUPPORTED_ENCODINGS)
@pytest.mark.parametrize('pad', [0, 3, 16])
def test_round_trip_every_encoding_with_padding(encoding, pad):
    rgb = RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    out = image_msg_to_rgb(stand_in(rgb, encoding, pad))
    assert out.dtype == np.uint8 and out.shape == (5, 7, 3) and out.flags.c_contiguous
    np.testing.assert_array_equal(out, expected(rgb, encoding))


@pytest.mark.parametrize('data_type', [bytes, bytearray, list, np.ndarray, array.array])
def test_data_containers(data_type):
    rgb = RNG.integers(0, 256, (4, 6, 3), dtype=np.uint8)
    np.testing.assert_array_equal(image_msg_to_rgb(stand_in(rgb, 'bgr8', 2, data_type)), rgb)


def test_bgr_swaps_and_mono_expands():
    pixel = np.array([[[10, 20, 30]]], np.uint8)
    bgr = SimpleNamespace(height=1, width=1, encoding='bgr8', step=3, data=bytes([10, 20, 30]))
    assert image_msg_to_rgb(bgr).tolist() == [[[30, 20, 10]]]
    bgra = SimpleNamespace(height=1, width=1, encoding='bgra8', step=4, data=bytes([1, 2, 3, 4]))
    assert image_msg_to_rgb(bgra).tolist() == [[[3, 2, 1]]]
    mono = SimpleNamespace(height=1, width=2, encoding='mono8', step=2, data=bytes([5, 200]))
    assert image_msg_to_rgb(mono).tolist() == [[[5, 5, 5], [200, 200, 200]]]
    assert image_msg_to_rgb(stand_in(pixel, 'rgb8')).tolist() == [[[10, 20, 30]]]


def test_result_does_not_alias_message_buffer():
    rgb = RNG.integers(0, 256, (3, 3, 3), dtype=np.uint8)
    msg = stand_in(rgb, 'rgb8', data_type=np.ndarray)
    out = image_msg_to_rgb(msg)
    msg.data[:] = 0
    np.testing.assert_array_equal(out, rgb)


@pytest.mark.parametrize('encoding', ['16UC1', '32FC1', 'yuv422', 'bayer_rggb8', 'rgb16', ''])
def test_unsupported_encodings_raise(encoding):
    msg = SimpleNamespace(height=2, width=2, encoding=encoding, step=8, data=bytes(16))
    with pytest.raises(InputError) as err:
        image_msg_to_rgb(msg)
    text = str(err.value)
    assert repr(encoding) in text
    assert 'rgb8, bgr8, rgba8, bgra8, mono8' in text


def test_wrong_size_says_got_and_expected():
    msg = stand_in(np.zeros((100, 120, 3), np.uint8), 'rgb8')
    with pytest.raises(InputError, match=r'got 100x120 .*expected 224x224'):
        image_msg_to_rgb(msg, expected_size=(224, 224))
    with pytest.raises(InputError, match='expected 224x224'):
        image_msg_to_rgb(msg, expected_size=224)
    assert image_msg_to_rgb(msg, expected_size=(100, 120)).shape == (100, 120, 3)


def test_inconsistent_step_and_data_raise():
    msg = SimpleNamespace(height=2, width=4, encoding='rgb8', step=10, data=bytes(20))
    with pytest.raises(InputError, match='step 10 is smaller than width'):
        image_msg_to_rgb(msg)
    msg = SimpleNamespace(height=2, width=4, encoding='rgb8', step=12, data=bytes(23))
    with pytest.raises(InputError, match='23 bytes, expected step'):
        image_msg_to_rgb(msg)
    msg = SimpleNamespace(height=0, width=4, encoding='rgb8', step=12, data=b'')
    with pytest.raises(InputError, match='non-empty'):
        image_msg_to_rgb(msg)


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 12), w=st.integers(1, 12), pad=st.integers(0, 9),
       encoding=st.sampled_from(SUPPORTED_ENCODINGS), seed=st.integers(0, 2**16))
def test_round_trip_property(h, w, pad, encoding, seed):
    rgb = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    np.testing.assert_array_equal(image_msg_to_rgb(stand_in(rgb, encoding, pad)),
                                  expected(rgb, encoding))


def compressed(rgb: np.ndarray, fmt: str) -> SimpleNamespace:
    buf = io.BytesIO()
    PILImage.fromarray(rgb).save(buf, format=fmt)
    return SimpleNamespace(format=fmt.lower(), data=buf.getvalue())


def test_compressed_png_exact_and_jpeg_close():
    rgb = RNG.integers(0, 256, (16, 20, 3), dtype=np.uint8)
    np.testing.assert_array_equal(compressed_msg_to_rgb(compressed(rgb, 'PNG')), rgb)
    smooth = np.full((16, 16, 3), (200, 100, 50), np.uint8)
    out = compressed_msg_to_rgb(compressed(smooth, 'JPEG'), expected_size=16)
    assert out.shape == (16, 16, 3) and np.abs(out.astype(int) - smooth).max() <= 3


def test_compressed_errors():
    with pytest.raises(InputError, match='cannot decode compressed image'):
        compressed_msg_to_rgb(SimpleNamespace(format='jpeg', data=b'not an image at all'))
    with pytest.raises(InputError, match='no data'):
        compressed_msg_to_rgb(SimpleNamespace(format='jpeg', data=b''))
    rgb = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(InputError, match='not supported'):
        compressed_msg_to_rgb(compressed(rgb, 'BMP'))
    with pytest.raises(InputError, match='got 4x4'):
        compressed_msg_to_rgb(compressed(rgb, 'PNG'), expected_size=(8, 8))
    truncated = compressed(RNG.integers(0, 256, (32, 32, 3), dtype=np.uint8), 'JPEG')
    truncated.data = truncated.data[:60]
    with pytest.raises(InputError, match='cannot decode'):
        compressed_msg_to_rgb(truncated)


def pose_stand_in(stamp=(3, 500_000_000), pos=(0.1, 0.2, 0.3), quat=(0.0, 0.0, 0.0, 2.0)):
    p = SimpleNamespace(x=pos[0], y=pos[1], z=pos[2])
    o = SimpleNamespace(x=quat[0], y=quat[1], z=quat[2], w=quat[3])
    return SimpleNamespace(header=SimpleNamespace(stamp=SimpleNamespace(sec=stamp[0],
                                                                        nanosec=stamp[1])),
                           pose=SimpleNamespace(position=p, orientation=o))


def test_pose_to_ee_state():
    state = pose_msg_to_ee_state(pose_stand_in())
    assert state.stamp == pytest.approx(3.5)
    np.testing.assert_allclose(state.position, [0.1, 0.2, 0.3])
    np.testing.assert_allclose(state.orientation, [0, 0, 0, 1])  # normalised


@pytest.mark.parametrize('quat, text', [((0, 0, 0, 0), 'is zero'),
                                        ((math.nan, 0, 0, 1), 'must be finite'),
                                        ((0, math.inf, 0, 1), 'must be finite')])
def test_bad_quaternions_raise(quat, text):
    with pytest.raises(InputError, match=text) as err:
        pose_msg_to_ee_state(pose_stand_in(quat=quat))
    assert 'quaternion (x, y, z, w)' in str(err.value)


def test_bad_position_raises():
    with pytest.raises(InputError, match='position must be finite'):
        pose_msg_to_ee_state(pose_stand_in(pos=(0, math.nan, 0)))


def test_stamp_to_sec():
    assert stamp_to_sec(SimpleNamespace(sec=12, nanosec=250_000_000)) == pytest.approx(12.25)
    assert stamp_to_sec(SimpleNamespace(sec=0, nanosec=0)) == 0.0


def test_ee_state_to_proprio_layout():
    rotvec = np.array([0.3, -0.2, 1.1])
    state = EEState(1.0, [0.5, -0.1, 0.9], axis_angle_to_quat(rotvec))
    proprio = ee_state_to_proprio(state, gripper=(0.02, -0.02))
    assert proprio.shape == (8,) and proprio.dtype == np.float64
    np.testing.assert_allclose(proprio[:3], [0.5, -0.1, 0.9])
    np.testing.assert_allclose(proprio[3:6], rotvec, atol=1e-12)
    np.testing.assert_allclose(proprio[6:], [0.02, -0.02])
    np.testing.assert_allclose(ee_state_to_proprio(state)[6:], [0.0, 0.0])
    with pytest.raises(InputError, match='gripper must be 2 finite numbers'):
        ee_state_to_proprio(state, gripper=(0.0,))


def test_importing_conversions_imports_no_ros():
    code = ('import sys, specprune_ros.ros.common.conversions, '
            'specprune_ros.specprune.debug_image; '
            'print(sorted(m for m in sys.modules if m.split(".")[0] in '
            '("rclpy", "sensor_msgs", "geometry_msgs", "builtin_interfaces")))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == '[]'


# ---------------------------------------------------------------- real messages


@needs_msgs
@pytest.mark.parametrize('stamp', [None, 1.25, 'time'])
def test_rgb_to_image_msg_round_trip(stamp):
    from specprune_ros.ros.common.conversions import rgb_to_image_msg
    rgb = RNG.integers(0, 256, (224, 224, 3), dtype=np.uint8)
    want = {None: (0, 0), 1.25: (1, 250_000_000), 'time': (7, 5)}[stamp]
    if stamp == 'time':
        stamp = Time(sec=7, nanosec=5)
    msg = rgb_to_image_msg(rgb, stamp=stamp, frame_id='cam')
    assert isinstance(msg, Image)
    assert (msg.encoding, msg.step, msg.height, msg.width) == ('rgb8', 672, 224, 224)
    assert msg.header.frame_id == 'cam'
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == want
    np.testing.assert_array_equal(image_msg_to_rgb(msg, expected_size=224), rgb)
    with pytest.raises(InputError, match='uint8 RGB'):
        rgb_to_image_msg(rgb.astype(np.float32))


@needs_msgs
@pytest.mark.parametrize('encoding', SUPPORTED_ENCODINGS)
def test_real_image_messages_every_encoding(encoding):
    rgb = RNG.integers(0, 256, (6, 9, 3), dtype=np.uint8)
    rows = encode(rgb, encoding, pad=5)
    msg = Image(height=6, width=9, encoding=encoding, is_bigendian=1, step=rows.shape[1],
                data=array.array('B', rows.tobytes()))
    np.testing.assert_array_equal(image_msg_to_rgb(msg), expected(rgb, encoding))


@needs_msgs
def test_real_compressed_image():
    rgb = RNG.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    buf = io.BytesIO()
    PILImage.fromarray(rgb).save(buf, format='PNG')
    msg = CompressedImage(format='png', data=array.array('B', buf.getvalue()))
    np.testing.assert_array_equal(compressed_msg_to_rgb(msg), rgb)


@needs_msgs
def test_sec_to_stamp_rounding_and_carry():
    from specprune_ros.ros.common.conversions import sec_to_stamp
    t = sec_to_stamp(1.9999999999)
    assert (t.sec, t.nanosec) == (2, 0)
    t = sec_to_stamp(-0.5)
    assert (t.sec, t.nanosec) == (-1, 500_000_000)
    assert stamp_to_sec(sec_to_stamp(1234.000000123)) == pytest.approx(1234.000000123, abs=1e-9)
    with pytest.raises(InputError, match='finite'):
        sec_to_stamp(math.nan)


@needs_msgs
def test_pose_message_round_trip():
    from specprune_ros.ros.common.conversions import ee_state_to_pose_msg
    state = EEState(5.5, [0.1, -0.2, 0.3], axis_angle_to_quat([0.1, 0.2, -0.3]))
    msg = ee_state_to_pose_msg(state, frame_id='world')
    assert isinstance(msg, PoseStamped) and msg.header.frame_id == 'world'
    back = pose_msg_to_ee_state(msg)
    assert back.stamp == pytest.approx(5.5)
    np.testing.assert_allclose(back.position, state.position)
    np.testing.assert_allclose(back.orientation, state.orientation)
    assert pose_msg_to_ee_state(ee_state_to_pose_msg(state, stamp=9.0)).stamp == 9.0
    zero = PoseStamped()
    zero.pose.orientation.w = 0.0
    with pytest.raises(InputError, match='is zero'):
        pose_msg_to_ee_state(zero)
