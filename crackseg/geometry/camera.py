"""Camera profiles: how a street-view camera sees the road, as a small named JSON file.

A profile fixes the ground-plane homography of a camera in one of two ways:

* ``camera`` mode: mounting height above the road (m), pitch below the horizontal
  (degrees) or the horizon's row in the image, and focal length (px) or horizontal
  field of view (degrees). A pinhole camera with its principal point at the image
  centre and no roll is assumed.
* ``points`` mode: four image points of a rectangle on the road whose width and
  length in metres are known (e.g. a 3.5 m lane over the length between two
  dashes), in the order near-left, near-right, far-right, far-left.

The profile also says which part of the road is inspected (the region: lateral and
forward range in metres; x is to the right of the camera axis, y forward along the
road) and the ground resolution of the bird's-eye view (mm per pixel). Every
check fails with a one-line ``CameraProfileError`` naming the field.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from crackseg.core.errors import CrackSegError

MAX_PROFILE_BYTES = 64 * 1024
MIN_FOV_DEG, MAX_FOV_DEG = 10.0, 170.0
INSPECT_ON = ("top-view", "frame")


class CameraProfileError(CrackSegError):
    """A camera profile is malformed or degenerate; the message names the field (and the file)."""


@dataclass(frozen=True)
class GroundRegion:
    """The inspected part of the road, in metres: x lateral (right positive), y forward from the camera."""

    lateral_m: tuple[float, float] = (-1.75, 1.75)
    forward_m: tuple[float, float] = (4.0, 10.0)

    def __post_init__(self) -> None:
        for name in ("lateral_m", "forward_m"):
            value = getattr(self, name)
            if not (isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_number(v) for v in value)):
                raise CameraProfileError(f"camera profile: region.{name} must be two numbers [min, max], got {value!r}")
            low, high = float(value[0]), float(value[1])
            if not low < high:
                raise CameraProfileError(f"camera profile: region.{name} must have min < max, got {value!r}")
            object.__setattr__(self, name, (low, high))
        if self.forward_m[0] < 0:
            raise CameraProfileError(f"camera profile: region.forward_m must start at >= 0 m, got {self.forward_m!r}")
        if self.forward_m[1] > 200 or max(abs(v) for v in self.lateral_m) > 50:
            raise CameraProfileError("camera profile: region is larger than 50 m sideways or 200 m ahead")

    @property
    def width_m(self) -> float:
        """Lateral extent in metres."""
        return self.lateral_m[1] - self.lateral_m[0]

    @property
    def length_m(self) -> float:
        """Forward extent in metres."""
        return self.forward_m[1] - self.forward_m[0]


@dataclass(frozen=True)
class CameraProfile:
    """A named street-view camera: its ground geometry, the inspected region and the top-view resolution.

    Attributes:
        name: a label recorded with every result.
        image_wh: the frame size the profile's pixel values refer to; frames of another size are rescaled.
        height_m, pitch_deg, horizon_row, hfov_deg, focal_px: ``camera`` mode (pitch or horizon row;
            field of view or focal length).
        points_px, rectangle_m, near_m: ``points`` mode: four image points (near-left, near-right,
            far-right, far-left) of a road rectangle ``(width_m, length_m)`` whose near edge is
            ``near_m`` ahead of the camera.
        region: the inspected road area; in ``points`` mode it defaults to the rectangle itself.
        mm_per_px: ground resolution of the bird's-eye view.
        inspect_on: where the model looks: ``frame`` (the frame itself, cropped to the region's bounds) or
            ``top-view`` (the region warped to the bird's-eye view). Either way the masks are cut to the region
            and measured on the top view. ``frame`` is the default because the street model was trained on
            vehicle frames as they are: on the survey-vehicle val frames its lane cell F1 is 0.667 on the frame
            against 0.600 on the top view (the model issue's note); a model trained on top views would use
            ``top-view``.
    """

    name: str = "custom"
    image_wh: tuple[int, int] = (1920, 1080)
    height_m: float | None = None
    pitch_deg: float | None = None
    horizon_row: float | None = None
    hfov_deg: float | None = None
    focal_px: float | None = None
    points_px: tuple[tuple[float, float], ...] | None = None
    rectangle_m: tuple[float, float] | None = None
    near_m: float = 0.0
    region: GroundRegion | None = None
    mm_per_px: float = 10.0
    inspect_on: str = "frame"
    notes: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip() or len(self.name) > 100:
            raise CameraProfileError("camera profile: name must be a non-empty string of at most 100 characters")
        size = self.image_wh
        if not (
            isinstance(size, (tuple, list)) and len(size) == 2 and all(_is_int(v) and 16 <= v <= 20000 for v in size)
        ):
            raise CameraProfileError(f"camera profile: image_wh must be two integers in [16, 20000], got {size!r}")
        object.__setattr__(self, "image_wh", (int(size[0]), int(size[1])))
        if not (_is_number(self.mm_per_px) and 1.0 <= self.mm_per_px <= 100.0):
            raise CameraProfileError(f"camera profile: mm_per_px must be in [1, 100], got {self.mm_per_px!r}")
        if self.inspect_on not in INSPECT_ON:
            raise CameraProfileError(
                f"camera profile: inspect_on must be one of {', '.join(INSPECT_ON)}, got {self.inspect_on!r}"
            )
        if self.mode == "points":
            self._check_points()
        else:
            self._check_camera()
        if self.region is not None and not isinstance(self.region, GroundRegion):
            raise CameraProfileError("camera profile: region must be a GroundRegion")

    @property
    def mode(self) -> str:
        """``points`` when four image points are given, else ``camera``."""
        return "points" if self.points_px is not None else "camera"

    @property
    def ground_region(self) -> GroundRegion:
        """The inspected region: the given one, or in ``points`` mode the rectangle."""
        if self.region is not None:
            return self.region
        if self.mode == "points" and self.rectangle_m is not None:
            width, length = self.rectangle_m
            return GroundRegion((-width / 2, width / 2), (self.near_m, self.near_m + length))
        return GroundRegion()

    @property
    def focal(self) -> float:
        """Focal length in pixels of ``image_wh`` (camera mode)."""
        if self.focal_px is not None:
            return float(self.focal_px)
        assert self.hfov_deg is not None
        return (self.image_wh[0] / 2) / math.tan(math.radians(self.hfov_deg) / 2)

    @property
    def pitch_rad(self) -> float:
        """Downward pitch of the optical axis in radians (camera mode)."""
        if self.pitch_deg is not None:
            return math.radians(self.pitch_deg)
        assert self.horizon_row is not None
        return math.atan2(self.image_wh[1] / 2 - self.horizon_row, self.focal)

    def scaled_to(self, image_wh: tuple[int, int]) -> CameraProfile:
        """The same camera for frames of another size (pixel values scaled per axis)."""
        if tuple(image_wh) == self.image_wh:
            return self
        sx, sy = image_wh[0] / self.image_wh[0], image_wh[1] / self.image_wh[1]
        return replace(
            self,
            image_wh=(int(image_wh[0]), int(image_wh[1])),
            horizon_row=None if self.horizon_row is None else self.horizon_row * sy,
            focal_px=None if self.focal_px is None else self.focal_px * sx,
            points_px=None if self.points_px is None else tuple((x * sx, y * sy) for x, y in self.points_px),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values, as saved in a profile file and recorded with results."""
        values = asdict(self)
        values["mode"] = self.mode
        values["region"] = asdict(self.ground_region)
        values["image_wh"] = list(self.image_wh)
        if self.points_px is not None:
            values["points_px"] = [list(point) for point in self.points_px]
        return {key: value for key, value in values.items() if value is not None and value != ""}

    def _check_camera(self) -> None:
        if not (_is_number(self.height_m) and 0.2 <= self.height_m <= 10.0):
            raise CameraProfileError(f"camera profile: height_m must be in [0.2, 10] m, got {self.height_m!r}")
        if (self.pitch_deg is None) == (self.horizon_row is None):
            raise CameraProfileError("camera profile: give exactly one of pitch_deg and horizon_row")
        if (self.hfov_deg is None) == (self.focal_px is None):
            raise CameraProfileError("camera profile: give exactly one of hfov_deg and focal_px")
        if self.hfov_deg is not None and not (_is_number(self.hfov_deg) and MIN_FOV_DEG < self.hfov_deg < MAX_FOV_DEG):
            raise CameraProfileError(
                f"camera profile: hfov_deg must be in ({MIN_FOV_DEG:g}, {MAX_FOV_DEG:g}), got {self.hfov_deg!r}"
            )
        if self.focal_px is not None and not (_is_number(self.focal_px) and self.focal_px > 1):
            raise CameraProfileError(f"camera profile: focal_px must be a number > 1, got {self.focal_px!r}")
        if self.pitch_deg is not None and not (_is_number(self.pitch_deg) and -30 < self.pitch_deg < 89):
            raise CameraProfileError(f"camera profile: pitch_deg must be in (-30, 89) degrees, got {self.pitch_deg!r}")
        if self.horizon_row is not None and not _is_number(self.horizon_row):
            raise CameraProfileError(f"camera profile: horizon_row must be a number, got {self.horizon_row!r}")
        if self.points_px is not None or self.rectangle_m is not None:
            raise CameraProfileError(
                "camera profile: give either camera parameters or points_px with rectangle_m, not both"
            )
        region = self.ground_region
        if region.forward_m[0] <= 0:
            raise CameraProfileError("camera profile: region.forward_m must start ahead of the camera (> 0 m)")
        # The region's near edge must image inside the frame's rows below the horizon.
        pitch = self.pitch_rad
        if pitch <= -math.pi / 2 or pitch >= math.pi / 2:
            raise CameraProfileError("camera profile: pitch_deg/horizon_row put the horizon out of range")
        horizon = self.image_wh[1] / 2 - self.focal * math.tan(pitch)
        if horizon >= self.image_wh[1]:
            raise CameraProfileError(
                f"camera profile: horizon_row {horizon:.0f} is below the frame (height {self.image_wh[1]}): "
                "the road is not in view"
            )
        far_angle = math.atan2(self.height_m, region.forward_m[1])
        if far_angle + pitch <= 0:
            raise CameraProfileError("camera profile: the region's far edge lies above the horizon")

    def _check_points(self) -> None:
        points = self.points_px
        if not (
            isinstance(points, (tuple, list))
            and len(points) == 4
            and all(isinstance(p, (tuple, list)) and len(p) == 2 and all(_is_number(v) for v in p) for p in points)
        ):
            raise CameraProfileError(f"camera profile: points_px must be four [x, y] pairs, got {points!r}")
        object.__setattr__(self, "points_px", tuple((float(x), float(y)) for x, y in points))
        rect = self.rectangle_m
        if not (isinstance(rect, (tuple, list)) and len(rect) == 2 and all(_is_number(v) and v > 0 for v in rect)):
            raise CameraProfileError(f"camera profile: rectangle_m must be [width_m, length_m] > 0, got {rect!r}")
        object.__setattr__(self, "rectangle_m", (float(rect[0]), float(rect[1])))
        if not (_is_number(self.near_m) and self.near_m >= 0):
            raise CameraProfileError(f"camera profile: near_m must be a number >= 0, got {self.near_m!r}")
        if not _is_convex_quadrilateral(self.points_px):
            raise CameraProfileError(
                "camera profile: points_px must form a convex quadrilateral "
                "(near-left, near-right, far-right, far-left)"
            )
        near_y = (self.points_px[0][1] + self.points_px[1][1]) / 2
        far_y = (self.points_px[2][1] + self.points_px[3][1]) / 2
        if not far_y < near_y:
            raise CameraProfileError("camera profile: points_px far edge must lie above (smaller y than) the near edge")


def profile_from_dict(values: Any, source: str = "camera profile") -> CameraProfile:
    """Build a profile from parsed JSON; unknown or mistyped keys name the source and the key."""
    if not isinstance(values, dict):
        raise CameraProfileError(f"{source}: must be a JSON object")
    known = {f for f in CameraProfile.__dataclass_fields__} | {"mode"}
    unknown = sorted(set(values) - known)
    if unknown:
        raise CameraProfileError(f"{source}: unknown key {unknown[0]!r}")
    kwargs = {key: value for key, value in values.items() if key != "mode"}
    if "region" in kwargs:
        region = kwargs["region"]
        if not isinstance(region, dict) or set(region) - {"lateral_m", "forward_m"}:
            raise CameraProfileError(f"{source}: key 'region' must be an object with lateral_m and/or forward_m")
        kwargs["region"] = _with_source(
            lambda: GroundRegion(**{k: tuple(v) if isinstance(v, list) else v for k, v in region.items()}), source
        )
    for key in ("image_wh", "rectangle_m"):
        if isinstance(kwargs.get(key), list):
            kwargs[key] = tuple(kwargs[key])
    if isinstance(kwargs.get("points_px"), list):
        kwargs["points_px"] = tuple(tuple(p) if isinstance(p, list) else p for p in kwargs["points_px"])
    for key in ("name", "notes", "inspect_on"):
        if key in kwargs and not isinstance(kwargs[key], str):
            raise CameraProfileError(f"{source}: key {key!r} must be a string")
    return _with_source(lambda: CameraProfile(**kwargs), source)


def load_profile(path: Path | str) -> CameraProfile:
    """Read a profile JSON file; a missing, oversized, malformed or degenerate file is one line naming it."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_PROFILE_BYTES:
            raise CameraProfileError(f"{path.name}: camera profile is larger than {MAX_PROFILE_BYTES // 1024} KiB")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CameraProfileError(f"{path}: camera profile not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise CameraProfileError(f"{path.name}: cannot read camera profile ({error.__class__.__name__})") from None
    try:
        values = json.loads(text)
    except json.JSONDecodeError as error:
        raise CameraProfileError(f"{path.name}: not valid JSON (line {error.lineno}: {error.msg})") from None
    return profile_from_dict(values, path.name)


def save_profile(profile: CameraProfile, path: Path | str) -> Path:
    """Write a profile as indented JSON (what ``load_profile`` reads back)."""
    path = Path(path)
    path.write_text(json.dumps(profile.to_dict(), indent=2) + "\n", encoding="utf-8")
    return path


def _with_source(build: Any, source: str) -> Any:
    try:
        return build()
    except CameraProfileError as error:
        message = str(error)
        prefix = "camera profile: "
        raise CameraProfileError(
            f"{source}: {message[len(prefix) :] if message.startswith(prefix) else message}"
        ) from None
    except TypeError as error:
        raise CameraProfileError(f"{source}: {error}") from None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_convex_quadrilateral(points: tuple[tuple[float, float], ...]) -> bool:
    """True when the four points, in order, turn the same way at every corner (strictly convex, not crossed)."""
    crosses = []
    for i in range(4):
        (x0, y0), (x1, y1), (x2, y2) = points[i], points[(i + 1) % 4], points[(i + 2) % 4]
        crosses.append((x1 - x0) * (y2 - y1) - (y1 - y0) * (x2 - x1))
    if any(abs(c) < 1e-6 for c in crosses):
        return False
    signs = {c > 0 for c in crosses}
    if len(signs) != 1:
        return False
    # A crossed (bow-tie) order has alternating turns; same-sign turns with total turning 360 deg is convex.
    angle = 0.0
    for i in range(4):
        (x0, y0), (x1, y1), (x2, y2) = points[i], points[(i + 1) % 4], points[(i + 2) % 4]
        a1, a2 = math.atan2(y1 - y0, x1 - x0), math.atan2(y2 - y1, x2 - x1)
        angle += (a2 - a1 + math.pi) % (2 * math.pi) - math.pi
    return abs(abs(angle) - 2 * math.pi) < 1e-3


DEFAULT_PROFILE = CameraProfile(
    name="phone-dashcam-default",
    image_wh=(1920, 1080),
    height_m=1.3,
    pitch_deg=4.0,
    hfov_deg=70.0,
    region=GroundRegion((-1.75, 1.75), (4.0, 10.0)),
    mm_per_px=10.0,
    notes="A phone or dashcam behind the windscreen of a car: 1.3 m above the road, 4 deg down, 70 deg wide.",
)
