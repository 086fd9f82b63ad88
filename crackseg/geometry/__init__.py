"""Ground-plane geometry for photos taken from a vehicle: camera profiles, homographies, the road region.

Enters: a camera profile (camera parameters or four image points of a road
rectangle of known size) and a frame size. Leaves: a ``GroundView`` that maps
frame pixels to metres on the road, warps the road region to a metric
bird's-eye view and back, and says what ground resolution the camera delivers.
Depends on ``crackseg.core`` only.
"""
