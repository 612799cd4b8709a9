#!/usr/bin/env python3
"""A tiny random CLIP and its outputs, as golden data for the Rust CLIP.

Writes tests/fixtures/clip/tiny/:
  model.safetensors   transformers.CLIPModel state_dict, Hugging Face names, f32
  config.json         the CLIPConfig (model.config.to_json_file)
  golden.safetensors  inputs and outputs:
      pixel_values      [2,3,32,32] f32   seeded normal
      input_ids         [3,77]      i64   words in [1, 998], end token 999
                                          (the row's arg-max), then 0 padding
      image_features    [2,16] f32  get_image_features (unnormalised)
      text_features     [3,16] f32  get_text_features (unnormalised)
      image_embeds      [2,16] f32  CLIPModel(...).image_embeds (normalised)
      text_embeds       [3,16] f32  CLIPModel(...).text_embeds (normalised)
      logits_per_image  [2,3]  f32
      grad_weights      [2,3]  f32  W, seeded normal
      grad_pixel_values [2,3,32,32] f32  d(sum(logits_per_image * W))/d(pixel_values)

The text feature is read at the arg-max id of each row (OpenAI's convention):
text_config.eos_token_id = 2 makes transformers take that legacy path
(CLIPTextModel.forward: `if self.eos_token_id == 2: ... input_ids.argmax(-1)`);
the script asserts that the pooled position is the arg-max.

Needs: /work/venv-ref with torch, transformers, safetensors (see
make_tokenizer_golden.py). Run from the repository root:
    /work/venv-ref/bin/python scripts/golden/make_tiny_clip.py
"""

import importlib.metadata as md
import os

import torch
from safetensors.torch import save_file
from transformers import CLIPConfig, CLIPModel

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "clip", "tiny")

END_ID = 999
CONTEXT = 77


def make_config():
    return CLIPConfig(
        text_config=dict(
            vocab_size=1000, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=4, max_position_embeddings=CONTEXT, hidden_act="quick_gelu",
            layer_norm_eps=1e-5,
            # 2 selects transformers' legacy pooling: the arg-max id of each row.
            eos_token_id=2, bos_token_id=0, pad_token_id=1,
        ),
        vision_config=dict(
            image_size=32, patch_size=8, hidden_size=32, intermediate_size=64,
            num_hidden_layers=2, num_attention_heads=4, hidden_act="quick_gelu",
            num_channels=3, layer_norm_eps=1e-5,
        ),
        projection_dim=16,
        logit_scale_init_value=2.6592,
    )


def make_input_ids(gen):
    """Three rows: 5 tokens + 72 pads, 40 tokens + 37 pads, 77 tokens (no pad)."""
    rows = []
    for n in (5, 40, CONTEXT):
        words = torch.randint(1, 999, (n - 1,), generator=gen)  # ids 1..=998
        pad = torch.zeros(CONTEXT - n, dtype=torch.int64)
        rows.append(torch.cat([words, torch.tensor([END_ID]), pad]))
    return torch.stack(rows).to(torch.int64)


def main():
    torch.manual_seed(0)
    config = make_config()
    config._attn_implementation = "eager"
    model = CLIPModel(config).eval()

    # Small seeded noise on every parameter, so LayerNorm weights and biases
    # are not trivially 1 and 0; then a chosen temperature.
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen))
        model.logit_scale.fill_(2.3)

    data_gen = torch.Generator().manual_seed(2)
    pixel_values = torch.randn(2, 3, 32, 32, generator=data_gen)
    input_ids = make_input_ids(data_gen)
    weights = torch.randn(2, 3, generator=data_gen)

    with torch.no_grad():
        image_features = model.get_image_features(pixel_values=pixel_values).pooler_output
        text_out = model.text_model(input_ids=input_ids)
        text_features = model.get_text_features(input_ids=input_ids).pooler_output

    # The pooled text position must be each row's arg-max (the end token).
    pos = input_ids.argmax(-1)
    assert pos.tolist() == [4, 39, 76], pos
    assert all(input_ids[i, p] == END_ID for i, p in enumerate(pos.tolist()))
    pooled = text_out.last_hidden_state[torch.arange(3), pos]
    assert torch.equal(pooled, text_out.pooler_output)
    assert torch.allclose(model.text_projection(pooled), text_features)

    pv = pixel_values.clone().requires_grad_(True)
    out = model(input_ids=input_ids, pixel_values=pv)
    (out.logits_per_image * weights).sum().backward()

    # Cross-check the normalised outputs against the features.
    ie = image_features / image_features.norm(dim=-1, keepdim=True)
    te = text_features / text_features.norm(dim=-1, keepdim=True)
    assert torch.allclose(ie, out.image_embeds, atol=1e-6)
    assert torch.allclose(te, out.text_embeds, atol=1e-6)
    assert torch.allclose(ie @ te.T * torch.tensor(2.3).exp(), out.logits_per_image, atol=1e-5)

    os.makedirs(OUT, exist_ok=True)
    state = {k: v.detach().to(torch.float32).contiguous() for k, v in model.state_dict().items()}
    dropped = [k for k in state if k.endswith("position_ids")]
    for k in dropped:
        del state[k]
    meta = {"source": "transformers=={} torch=={}".format(md.version("transformers"), torch.__version__)}
    save_file(state, os.path.join(OUT, "model.safetensors"), metadata=meta)
    model.config.to_json_file(os.path.join(OUT, "config.json"))

    f32 = lambda t: t.detach().to(torch.float32).contiguous()
    golden = {
        "pixel_values": f32(pixel_values),
        "input_ids": input_ids.contiguous(),
        "image_features": f32(image_features),
        "text_features": f32(text_features),
        "image_embeds": f32(out.image_embeds),
        "text_embeds": f32(out.text_embeds),
        "logits_per_image": f32(out.logits_per_image),
        "grad_weights": f32(weights),
        "grad_pixel_values": f32(pv.grad),
    }
    save_file(golden, os.path.join(OUT, "golden.safetensors"), metadata=meta)

    print("parameters:", len(state), "dropped buffers:", dropped or "none")
    for k, v in state.items():
        print(f"  {k} {list(v.shape)}")
    print("logits_per_image:", out.logits_per_image.tolist())
    for name in ("model.safetensors", "config.json", "golden.safetensors"):
        print(name, os.path.getsize(os.path.join(OUT, name)), "bytes")


if __name__ == "__main__":
    main()
