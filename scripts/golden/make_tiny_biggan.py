#!/usr/bin/env python3
"""A tiny random BigGAN-deep and its outputs, as golden data for the Rust BigGAN;
and a small PyTorch file in the pre-zip ("legacy") format for the Rust reader.

Built with the reference package pytorch-pretrained-biggan (0.1.1, whose model.py
is huggingface/pytorch-pretrained-BigGAN's): `BigGAN(BigGANConfig(...))`, so its
state_dict keys are those of the published pytorch_model.bin files. Spectral norm
is PyTorch's hook version, as the package uses it: the state_dict holds
`weight_orig`, `weight_u` and `weight_v`, and in eval mode the weight is
weight_orig / (u . W v). Three forwards in train mode first run the power
iteration, so u and v are the ones a trained model would hold.

Writes tests/fixtures/biggan/tiny/:
  config.json        the config, as the package's converter writes it
  pytorch_model.bin  model.state_dict(), saved as the 2019 files are: torch's
                     legacy format (_use_new_zipfile_serialization=False)
  golden.safetensors inputs and outputs, f32:
    z                [2,16]      seeded N(0,1), times 0.7
    class_vector     [2,10]      softmax(2 N(0,1)): a soft class mixture
    out_t1           [2,3,64,64] model(z, class_vector, 1.0)
    out_t073         [2,3,64,64] model(z, class_vector, 0.73): statistics interpolated
    out_t04          [2,3,64,64] model(z, class_vector, 0.4)
    weights_out      [2,3,64,64] seeded N(0,1): the loss is sum(out_t073 * weights_out)
    grad_z           [2,16]      d loss / d z
    grad_class       [2,10]      d loss / d class_vector
  Big Sleep's layered forward (lucidrains/big-sleep's biggan.py: row 0 of the
  condition feeds gen_z, row k the k-th GenBlock), batch 1, truncation 1:
    normu            [7,16]      seeded N(0,1)
    cls              [7,10]      N(-3.9, 0.3) as Big Sleep starts, + 2 N(0,1)
    out_layered      [1,3,64,64] layered(normu, sigmoid(cls))
    weights_layered  [1,3,64,64] seeded N(0,1)
    grad_normu       [7,16]      d sum(out_layered * weights_layered) / d normu
    grad_cls         [7,10]      the same at cls (through the sigmoid)

And tests/fixtures/pth/legacy.bin with legacy-expected.safetensors: a dict of a
contiguous tensor, its transpose (same storage, other strides), a view at an
offset, an i64 and an f16 tensor, saved in the legacy format; the safetensors
file holds the same values, each contiguous.

Needs the venv of make_tiny_vqgan.py with pytorch-pretrained-biggan (--no-deps):
    ~/.cache/clip-art/torch-venv/bin/pip install --no-deps pytorch-pretrained-biggan
    ~/.cache/clip-art/torch-venv/bin/pip install boto3 requests tqdm scipy  # its imports
Run from the repository root:
    ~/.cache/clip-art/torch-venv/bin/python scripts/golden/make_tiny_biggan.py
"""

import json
import os

import torch
from safetensors.torch import save_file

from pytorch_pretrained_biggan.model import BigGAN, GenBlock
from pytorch_pretrained_biggan.config import BigGANConfig

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "biggan", "tiny")
PTH = os.path.join(ROOT, "tests", "fixtures", "pth")

CONFIG = dict(
    output_dim=64,
    z_dim=16,
    class_embed_dim=16,
    channel_width=4,
    num_classes=10,
    # (upsample, in channels / width, out channels / width), as the real ones:
    # 16 at the start, halving as the side grows, attention before layer 3. Layer
    # 1 doubles the side and keeps its channels: its input feeds both its main
    # path and, doubled, its skip, whose gradients must add up.
    layers=[(False, 16, 16), (True, 16, 16), (True, 16, 8), (True, 8, 4),
            (True, 4, 2), (False, 2, 1)],
    attention_layer_position=3,
    eps=1e-4,
    n_stats=51,
)


def build():
    torch.manual_seed(0)
    model = BigGAN(BigGANConfig.from_dict(CONFIG))
    with torch.no_grad():
        for name, buffer in model.named_buffers():
            if name.endswith("running_means"):
                buffer.copy_(0.3 * torch.randn_like(buffer))
            elif name.endswith("running_vars"):
                buffer.copy_(torch.rand_like(buffer) * 1.5 + 0.5)
        model.generator.bn.weight.copy_(1 + 0.1 * torch.randn(CONFIG["channel_width"]))
        model.generator.bn.bias.copy_(0.1 * torch.randn(CONFIG["channel_width"]))
        for module in model.modules():
            if hasattr(module, "gamma"):
                module.gamma.fill_(0.8)
        # The power iteration, as training would have run it.
        model.train()
        z = torch.randn(2, CONFIG["z_dim"])
        c = torch.softmax(torch.randn(2, CONFIG["num_classes"]), dim=1)
        for _ in range(3):
            model(z, c, 1.0)
    model.eval()
    return model


def layered(model, normu, classes, truncation):
    """big-sleep's BigGAN.forward and Generator.forward, on the reference
    modules: one condition row per layer."""
    cond = torch.cat((normu, model.embeddings(classes)), dim=1)
    g = model.generator
    x = g.gen_z(cond[0].unsqueeze(0))
    x = x.view(-1, 4, 4, 16 * g.config.channel_width).permute(0, 3, 1, 2).contiguous()
    row = 1
    for layer in g.layers:
        if isinstance(layer, GenBlock):
            x = layer(x, cond[row].unsqueeze(0), truncation)
            row += 1
        else:
            x = layer(x)
    x = g.relu(g.bn(x, truncation))
    return torch.tanh(g.conv_to_rgb(x)[:, :3])


def golden(model):
    gen = torch.Generator().manual_seed(1)
    z = 0.7 * torch.randn(2, CONFIG["z_dim"], generator=gen)
    class_vector = torch.softmax(2 * torch.randn(2, CONFIG["num_classes"], generator=gen), 1)
    weights_out = torch.randn(2, 3, 64, 64, generator=gen)
    normu = torch.randn(7, CONFIG["z_dim"], generator=gen)
    cls = -3.9 + 0.3 * torch.randn(7, CONFIG["num_classes"], generator=gen)
    cls = cls + 2 * torch.randn(7, CONFIG["num_classes"], generator=gen)
    weights_layered = torch.randn(1, 3, 64, 64, generator=gen)

    data = {"z": z, "class_vector": class_vector, "weights_out": weights_out,
            "normu": normu, "cls": cls, "weights_layered": weights_layered}
    with torch.no_grad():
        for name, t in [("out_t1", 1.0), ("out_t073", 0.73), ("out_t04", 0.4)]:
            data[name] = model(z, class_vector, t)

    zv = z.clone().requires_grad_()
    cv = class_vector.clone().requires_grad_()
    (model(zv, cv, 0.73) * weights_out).sum().backward()
    data["grad_z"], data["grad_class"] = zv.grad, cv.grad

    nv = normu.clone().requires_grad_()
    lv = cls.clone().requires_grad_()
    out = layered(model, nv, torch.sigmoid(lv), 1.0)
    (out * weights_layered).sum().backward()
    data["out_layered"] = out.detach()
    data["grad_normu"], data["grad_cls"] = nv.grad, lv.grad
    return {k: v.detach().contiguous().float() for k, v in data.items()}


def legacy_pth():
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4) / 4 - 1
    tensors = {
        "contiguous": base,
        "transposed": base.t(),
        "offset_view": base[1:],
        "longs": torch.tensor([[3, -1], [2**40, 7]], dtype=torch.int64),
        "halves": torch.tensor([0.5, -2.25, 1e-3], dtype=torch.float16),
    }
    os.makedirs(PTH, exist_ok=True)
    torch.save(tensors, os.path.join(PTH, "legacy.bin"), _use_new_zipfile_serialization=False)
    save_file({k: v.clone().contiguous() for k, v in tensors.items()},
              os.path.join(PTH, "legacy-expected.safetensors"))


def main():
    model = build()
    os.makedirs(OUT, exist_ok=True)
    torch.save(model.state_dict(), os.path.join(OUT, "pytorch_model.bin"),
               _use_new_zipfile_serialization=False)
    with open(os.path.join(OUT, "config.json"), "w", encoding="utf-8") as f:
        f.write(BigGANConfig.from_dict(CONFIG).to_json_string())
    data = golden(model)
    save_file(data, os.path.join(OUT, "golden.safetensors"))
    legacy_pth()
    for name, value in data.items():
        print(f"{name:16} {tuple(value.shape)}  |max| {value.abs().max():.3g}")
    print(f"{sum(p.numel() for p in model.parameters())} parameters, torch {torch.__version__}")


if __name__ == "__main__":
    main()
