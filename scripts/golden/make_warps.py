#!/usr/bin/env python3
"""Warps of the views as kornia makes them, as golden data for guide::augment.

nerdyrodent's VQGAN-CLIP distorts its views with kornia's RandomAffine and
RandomPerspective. Both build a 3×3 matrix (get_affine_matrix2d,
get_perspective_transform) and warp with warp_perspective (bilinear, zeros
padding, align_corners=True). The random draws are kornia's own business;
what must match is the matrix for given parameters and the warp it makes.

Writes tests/fixtures/augment/warps.safetensors (f64):
  pictures [3,3,12,12]  uniform [0, 1), seeded
  forward  [3,3,3]      the maps, source to output:
                        0: get_affine_matrix2d, angle 12°, shear x 4° (in
                           radians), translation (1.5, -0.8), about the centre
                        1: get_perspective_transform from the corners to CORNERS_TO
                        2: map 1 after map 0 (as RandomAffine, then RandomPerspective)
  warped   [3,3,12,12]  warp_perspective(pictures[k], forward[k])
  weights  [3,3,12,12]  seeded normal
  grad     [3,3,12,12]  d sum(warped * weights) / d pictures

Run from the repository root with torch and kornia installed:
  python3 scripts/golden/make_warps.py
"""
import math
import pathlib

import torch
from kornia.geometry.transform import get_affine_matrix2d, get_perspective_transform, warp_perspective
from safetensors.torch import save_file

SIDE = 12
CORNERS_TO = [[1.0, 2.0], [10.0, 0.5], [9.0, 10.0], [0.5, 8.0]]


def main():
    torch.manual_seed(0)
    dtype = torch.float64
    centre = torch.tensor([[(SIDE - 1) / 2] * 2], dtype=dtype)
    affine = get_affine_matrix2d(
        translations=torch.tensor([[1.5, -0.8]], dtype=dtype),
        center=centre,
        scale=torch.ones(1, 2, dtype=dtype),
        angle=torch.tensor([12.0], dtype=dtype),
        sx=torch.tensor([math.radians(4.0)], dtype=dtype),
        sy=torch.tensor([0.0], dtype=dtype),
    )
    last = SIDE - 1.0
    corners = torch.tensor([[[0.0, 0.0], [last, 0.0], [last, last], [0.0, last]]], dtype=dtype)
    perspective = get_perspective_transform(corners, torch.tensor([CORNERS_TO], dtype=dtype))
    forward = torch.cat([affine, perspective, perspective @ affine])
    pictures = torch.rand(3, 3, SIDE, SIDE, dtype=dtype, requires_grad=True)
    warped = warp_perspective(pictures, forward, (SIDE, SIDE), mode="bilinear",
                              padding_mode="zeros", align_corners=True)
    weights = torch.randn(warped.shape, dtype=dtype)
    (grad,) = torch.autograd.grad((warped * weights).sum(), pictures)
    out = pathlib.Path("tests/fixtures/augment")
    out.mkdir(parents=True, exist_ok=True)
    tensors = {"pictures": pictures, "forward": forward, "warped": warped, "weights": weights, "grad": grad}
    save_file({k: v.detach().contiguous() for k, v in tensors.items()}, out / "warps.safetensors")
    print(f"wrote {out / 'warps.safetensors'}")


if __name__ == "__main__":
    main()
