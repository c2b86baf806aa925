"""A SmolVLM-architecture backbone saved locally with random weights, so SmolVLA trains with no network.

This is a TEST backbone: it has the right architecture and file layout (config, processor, tokenizer) but
random weights and a toy vocabulary. Real users fine-tune `lerobot/smolvla_base` from the hub. SmolVLA reads
`AutoConfig`, `AutoProcessor` and `AutoTokenizer` from `vlm_model_name` even with `load_vlm_weights=False`,
so pointing `vlm_model_name` at the folder written here is enough to build, train and run SmolVLA offline.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

# The special tokens SmolVLA and the SmolVLM processor look up by name.
SPECIAL_TOKENS = {
    "fake_image_token": "<fake_token_around_image>",
    "image_token": "<image>",
    "end_of_utterance_token": "<end_of_utterance>",
    "global_image_token": "<global-img>",
}
GRID = 4  # row/col tokens for split images: <row_1_col_1> .. <row_4_col_4>
WORDS = ("pick up the cube and hand it over insert peg into socket move joints a to of on in with robot arm "
         "left right grasp place push t block transfer").split()

# Published SmolVLM2-500M-Video-Instruct dimensions (the default SmolVLA backbone), for honest latency figures.
FULL_SIZE = {
    "vision": {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12,
               "patch_size": 16, "image_size": 512},
    "text": {"hidden_size": 960, "intermediate_size": 2560, "num_hidden_layers": 32, "num_attention_heads": 15,
             "num_key_value_heads": 5, "head_dim": 64, "vocab_size": 49280, "max_position_embeddings": 8192,
             "rope_theta": 100000.0},
    "scale_factor": 4,
}
TINY = {
    "vision": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
               "patch_size": 8, "image_size": 32},
    "text": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
             "num_key_value_heads": 2, "head_dim": 16, "vocab_size": None, "max_position_embeddings": 512,
             "rope_theta": 10000.0},
    "scale_factor": 2,
}


def _tokenizer():
    """A WordLevel tokenizer wrapped as PreTrainedTokenizerFast with SmolVLM's special tokens."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    grid_tokens = [f"<row_{r}_col_{c}>" for r in range(1, GRID + 1) for c in range(1, GRID + 1)]
    specials = ["<pad>", "<unk>", "<bos>", *SPECIAL_TOKENS.values(), *grid_tokens]
    vocab = {token: i for i, token in enumerate([*specials, *WORDS, "\n"])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", unk_token="<unk>", bos_token="<bos>",
        additional_special_tokens=[*SPECIAL_TOKENS.values(), *grid_tokens],
        extra_special_tokens=dict(SPECIAL_TOKENS),
    )


def _processor(tokenizer, image_size: int):
    """A SmolVLMProcessor (image + video processors and the tokenizer) at the given image size."""
    from transformers import SmolVLMImageProcessor, SmolVLMProcessor, SmolVLMVideoProcessor

    size = {"longest_edge": image_size}
    image_processor = SmolVLMImageProcessor(size=size, max_image_size=size, do_image_splitting=False)
    video_processor = SmolVLMVideoProcessor(size=size, max_image_size=size)
    return SmolVLMProcessor(image_processor=image_processor, tokenizer=tokenizer, video_processor=video_processor,
                            image_seq_len=4)


def backbone_config(dims: dict, vocab_size: int, image_token_id: int):
    """A SmolVLMConfig with the given vision/text dimensions."""
    from transformers import SmolVLMConfig

    text = dict(dims["text"], model_type="llama", vocab_size=dims["text"]["vocab_size"] or vocab_size)
    return SmolVLMConfig(vision_config=dict(dims["vision"]), text_config=text, scale_factor=dims["scale_factor"],
                         image_token_id=image_token_id, vocab_size=text["vocab_size"])


def save_backbone(path: str | Path, full_size: bool = False) -> Path:
    """Write a SmolVLM-architecture backbone (config, processor, tokenizer; random weights) to path."""
    path = Path(path)
    dims = FULL_SIZE if full_size else TINY
    tokenizer = _tokenizer()
    config = backbone_config(dims, len(tokenizer), tokenizer.convert_tokens_to_ids(SPECIAL_TOKENS["image_token"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    try:
        _processor(tokenizer, dims["vision"]["image_size"]).save_pretrained(scratch)
        config.save_pretrained(scratch)
        (scratch / "TEST_BACKBONE.md").write_text(
            "Random-weight SmolVLM-architecture backbone for offline tests and latency figures; "
            "not a trained model. Use lerobot/smolvla_base for real work.\n")
        # Built aside and renamed in, so a process that asks for it meanwhile never reads half a folder.
        try:
            os.replace(scratch, path)
        except OSError:  # a folder is in the way: another process's whole backbone, or a broken one
            if not is_complete(path):
                shutil.rmtree(path)
                os.replace(scratch, path)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # left only when another process's backbone was kept
    return path


def default_backbone_dir(full_size: bool = False) -> Path:
    """Where the test backbone is cached: outputs/smolvla_backbones/{tiny,full_size}."""
    return Path("outputs") / "smolvla_backbones" / ("full_size" if full_size else "tiny")


def is_complete(path: Path) -> bool:
    """Whether path holds a saved backbone (its config and tokenizer)."""
    return (path / "config.json").is_file() and (path / "tokenizer_config.json").is_file()


def ensure_backbone(path: str | Path | None = None, full_size: bool = False) -> Path:
    """Return a folder holding the test backbone, building it first when it is missing."""
    path = Path(path) if path is not None else default_backbone_dir(full_size)
    if not is_complete(path):
        save_backbone(path, full_size=full_size)
    return path.resolve()


def tiny_smolvla_overrides(backbone_dir: str | Path) -> dict:
    """SmolVLA config fields that pair with the tiny backbone (image size matches its vision tower)."""
    image_size = json.loads((Path(backbone_dir) / "config.json").read_text())["vision_config"]["image_size"]
    return {"vlm_model_name": str(backbone_dir), "load_vlm_weights": False, "num_vlm_layers": 2,
            "num_expert_layers": 2, "resize_imgs_with_padding": (image_size, image_size),
            "tokenizer_max_length": 16, "chunk_size": 10, "n_action_steps": 10, "num_steps": 2}
