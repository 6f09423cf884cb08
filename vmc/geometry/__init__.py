"""Pure geometry: rotation representations and the weak-perspective camera (torch only)."""

from vmc.geometry.camera import project_weak_perspective
from vmc.geometry.rotations import (
    axis_angle_to_matrix,
    axis_angle_to_quaternion,
    matrix_to_axis_angle,
    matrix_to_quaternion,
    matrix_to_rot6d_cols,
    matrix_to_rot6d_rows,
    quaternion_to_axis_angle,
    quaternion_to_matrix,
    rot6d_cols_to_matrix,
    rot6d_rows_to_matrix,
    rotation_about_x,
    rotation_about_y,
    rotation_about_z,
)

__all__ = [
    "axis_angle_to_matrix",
    "axis_angle_to_quaternion",
    "matrix_to_axis_angle",
    "matrix_to_quaternion",
    "matrix_to_rot6d_cols",
    "matrix_to_rot6d_rows",
    "project_weak_perspective",
    "quaternion_to_axis_angle",
    "quaternion_to_matrix",
    "rot6d_cols_to_matrix",
    "rot6d_rows_to_matrix",
    "rotation_about_x",
    "rotation_about_y",
    "rotation_about_z",
]
