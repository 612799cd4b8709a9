#!/usr/bin/env python3
"""Golden data for CLIP's image preprocessing (OpenAI's ViT-B/32 transform).

Draws small deterministic RGB test images with PIL, saves them as PNG in
tests/fixtures/clip/preprocess/, and writes golden.safetensors there with,
for each image k:
  image{k}_uint8  [224,224,3] u8    the image after Resize + CenterCrop (PIL's
                                    bicubic resampling), before ToTensor
The f32 output of OpenAI's reference transform (clip.clip._transform(224):
torchvision Resize(224, BICUBIC) on the PIL image, CenterCrop(224), ToTensor,
Normalize with OpenAI's mean and std) is exactly ToTensor + Normalize of these
bytes (asserted below), so only the bytes are stored: the file stays small.

The images:
  image0  300x200  upscale (short side 200 -> 224, resized 336x224)
  image1  180x260  upscale, resized 224x323: the crop offset (323-224)/2 = 49.5
                   rounds to 50 in torchvision (round half to even) but is 49
                   with floor division
  image2  224x224  already the right size: resize is the identity
  image3  417x300  downscale (resized 311x224): offset 43.5 -> 44 vs 43

It then compares with open_clip's eval transform and transformers'
CLIPImageProcessorPil (PIL backend) and CLIPImageProcessor (torchvision
tensor backend) and prints the largest differences.

Needs: /work/venv-ref with torch, torchvision, pillow, numpy, safetensors,
clip-anytorch, and optionally open_clip_torch and transformers (see
make_tokenizer_golden.py). Run from the repository root:
    /work/venv-ref/bin/python scripts/golden/make_preprocess_golden.py
"""

import importlib.metadata as md
import os
import warnings

import numpy as np
import torch
from PIL import Image, ImageDraw
from safetensors.torch import save_file

warnings.filterwarnings("ignore", message="pkg_resources")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "clip", "preprocess")
SIZES = [(300, 200), (180, 260), (224, 224), (417, 300)]  # (width, height)


def draw_image(k, w, h):
    """A gradient, saturated shapes, fine stripes and a checkerboard."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 255 * x / (w - 1)
    g = 255 * y / (h - 1)
    b = 127.5 + 127.5 * np.sin((x + 2 * y) / (7.0 + 3 * k))
    arr = np.stack([r, g, b], -1).round().clip(0, 255).astype(np.uint8)
    img = Image.fromarray(arr, "RGB")
    d = ImageDraw.Draw(img)
    d.ellipse([w * 0.1, h * 0.1, w * 0.45, h * 0.5], fill=(255, 0, 0), outline=(0, 0, 0), width=3)
    d.rectangle([w * 0.55, h * 0.15, w * 0.9, h * 0.45], fill=(0, 0, 255))
    d.polygon([(w * 0.2, h * 0.9), (w * 0.5, h * 0.55), (w * 0.8, h * 0.9)], fill=(255, 255, 0))
    d.line([(0, 0), (w - 1, h - 1)], fill=(255, 255, 255), width=1)
    d.line([(0, h - 1), (w - 1, 0)], fill=(0, 0, 0), width=2)
    # Fine stripes and a checkerboard: ringing and clamping at 0 and 255.
    for i in range(int(w * 0.05), int(w * 0.3), 2):
        d.line([(i, int(h * 0.55)), (i, int(h * 0.7))], fill=(0, 0, 0) if i % 4 else (255, 255, 255))
    cx, cy, n = int(w * 0.7), int(h * 0.55), 4 + k
    for i in range(8):
        for j in range(8):
            c = (255, 255, 255) if (i + j) % 2 else (0, 0, 0)
            d.rectangle([cx + i * n, cy + j * n, cx + i * n + n - 1, cy + j * n + n - 1], fill=c)
    return img


def main():
    import clip.clip as openai_clip

    os.makedirs(OUT, exist_ok=True)
    ref = openai_clip._transform(224)  # the transform clip.load returns for ViT-B/32
    resize_and_crop = ref.transforms[:2]

    others = {}
    try:
        import open_clip
        others[f"open_clip_torch=={md.version('open_clip_torch')} image_transform"] = (
            lambda im, t=open_clip.image_transform(224, is_train=False): t(im).numpy())
    except Exception as e:  # pragma: no cover
        print("open_clip skipped:", e)
    try:
        from transformers import CLIPImageProcessor, CLIPImageProcessorPil
        pil_proc, tv_proc = CLIPImageProcessorPil(), CLIPImageProcessor()
        v = md.version("transformers")
        others[f"transformers=={v} CLIPImageProcessorPil"] = (
            lambda im: np.asarray(pil_proc(im, return_tensors="np")["pixel_values"][0], np.float32))
        others[f"transformers=={v} CLIPImageProcessor (torchvision)"] = (
            lambda im: tv_proc(im, return_tensors="pt")["pixel_values"][0].numpy())
    except Exception as e:  # pragma: no cover
        print("transformers skipped:", e)

    golden = {}
    for k, (w, h) in enumerate(SIZES):
        path = os.path.join(OUT, f"image{k}.png")
        draw_image(k, w, h).save(path, optimize=True)
        img = Image.open(path).convert("RGB")  # what a user of the fixture reads
        x = ref(img)
        u8 = img
        for t in resize_and_crop:
            u8 = t(u8)
        u8 = torch.from_numpy(np.asarray(u8, dtype=np.uint8).copy())
        assert list(x.shape) == [3, 224, 224] and list(u8.shape) == [224, 224, 3]
        # Check: the f32 output is exactly ToTensor + Normalize of the uint8 image.
        mean = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(3, 1, 1)
        std = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(3, 1, 1)
        again = (u8.permute(2, 0, 1).float().div(255) - mean) / std
        assert (again - x).abs().max().item() <= 1e-6
        golden[f"image{k}_uint8"] = u8.contiguous()
        print(f"image{k}: {w}x{h}, {os.path.getsize(path)} bytes PNG, "
              f"uint8 -> f32 recomputed max diff {(again - x).abs().max().item():.3g}")
        for name, fn in others.items():
            y = fn(img)
            diff = np.abs(y - x.numpy()).max()
            note = ""
            if diff > 0:  # is it the crop offset (floor vs round-half-even)?
                a = x.numpy()
                shifts = {"rows": np.abs(y[:, 1:, :] - a[:, :-1, :]).max(),
                          "cols": np.abs(y[:, :, 1:] - a[:, :, :-1]).max()}
                note = "; shifted one pixel ({}): {}".format(
                    ", ".join(f"{d} {v:.3g}" for d, v in shifts.items()),
                    "crop offset differs" if min(shifts.values()) == 0 else "not just the crop")
            print(f"  vs {name}: max |diff| {diff:.3g} (~{diff * 0.2686 * 255:.1f} uint8 steps){note}")

    meta = {"source": "clip-anytorch=={} clip._transform(224), torch=={}, torchvision=={}, pillow=={}".format(
        md.version("clip-anytorch"), torch.__version__, md.version("torchvision"), md.version("pillow"))}
    out = os.path.join(OUT, "golden.safetensors")
    save_file(golden, out, metadata=meta)
    print(out, os.path.getsize(out), "bytes;", meta["source"])


if __name__ == "__main__":
    main()
