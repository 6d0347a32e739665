"""Tiny, randomly initialised Qwen2.5-Omni and Qwen3-Omni thinkers and their real processors, built in code.

No weights can be downloaded where tests and demos run, so this stands in for Qwen2.5-Omni-7B:
the same classes, the same processor (tokenizer with the omni special tokens, Whisper features,
Qwen2-VL video processing), a few thousand times smaller. Its answers are random but
deterministic for a seed, which is all the pipeline's mechanics need. `save_tiny_model` writes it
as a model folder that `from_pretrained` (and `earwitness verify --model FOLDER`) loads.
"""

from __future__ import annotations

from pathlib import Path

SPECIAL = {
    "image_token": "<|IMAGE|>",
    "audio_token": "<|AUDIO|>",
    "video_token": "<|VIDEO|>",
    "vision_bos_token": "<|vision_bos|>",
    "vision_eos_token": "<|vision_eos|>",
    "audio_bos_token": "<|audio_bos|>",
    "audio_eos_token": "<|audio_eos|>",
}
CHAT = ["<|im_start|>", "<|im_end|>", "<|endoftext|>"]
CORPUS = [
    "You are Qwen, a virtual human developed by the Qwen Team, Alibaba Group, capable of perceiving auditory and "
    "visual inputs, as well as generating text and speech.",
    "Is the dog clearly visible in this video? Is the sound of a dog clearly audible in this video?",
    "Answer with Yes or No only. Yes No yes no system user assistant",
]


def tiny_processor(family: str = "qwen2_5_omni"):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import (
        Qwen2_5OmniProcessor,
        Qwen2TokenizerFast,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
        WhisperFeatureExtractor,
    )

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=CHAT + list(SPECIAL.values()),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,  # its bar writes empty lines into a pipeline's log
    )
    bpe.train_from_iterator(CORPUS, trainer)
    tokenizer = Qwen2TokenizerFast(
        tokenizer_object=bpe,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        padding_side="left",
        extra_special_tokens=SPECIAL,
    )
    parts = {"image_processor": Qwen2VLImageProcessor(), "feature_extractor": WhisperFeatureExtractor(feature_size=128)}
    if family == "qwen3_omni_moe":
        from transformers import Qwen3OmniMoeProcessor, Qwen3VLVideoProcessor

        return Qwen3OmniMoeProcessor(video_processor=Qwen3VLVideoProcessor(), tokenizer=tokenizer, **parts)
    return Qwen2_5OmniProcessor(video_processor=Qwen2VLVideoProcessor(), tokenizer=tokenizer, **parts)


def tiny_thinker(processor, seed: int = 0, family: str = "qwen2_5_omni"):
    import torch

    tokenizer = processor.tokenizer
    ids = {name: tokenizer.convert_tokens_to_ids(token) for name, token in SPECIAL.items()}
    torch.manual_seed(seed)
    if family == "qwen3_omni_moe":
        return _tiny_qwen3(len(tokenizer), ids).eval()
    from transformers import Qwen2_5OmniThinkerConfig, Qwen2_5OmniThinkerForConditionalGeneration

    hidden = 32
    config = Qwen2_5OmniThinkerConfig(
        audio_config={
            "num_mel_bins": 128, "encoder_layers": 1, "encoder_attention_heads": 2, "encoder_ffn_dim": 32,
            "d_model": 16, "output_dim": hidden, "n_window": 100,
        },
        vision_config={
            "depth": 1, "hidden_size": 16, "intermediate_size": 32, "num_heads": 2, "out_hidden_size": hidden,
            "fullatt_block_indexes": [0], "window_size": 112,
        },
        text_config={
            "vocab_size": len(tokenizer), "hidden_size": hidden, "intermediate_size": 64, "num_hidden_layers": 2,
            "num_attention_heads": 4, "num_key_value_heads": 2,
            "rope_parameters": {"rope_type": "default", "rope_theta": 1e6, "mrope_section": [1, 1, 2]},
        },
        audio_token_index=ids["audio_token"], image_token_index=ids["image_token"],
        video_token_index=ids["video_token"], audio_start_token_id=ids["audio_bos_token"],
        audio_end_token_id=ids["audio_eos_token"], vision_start_token_id=ids["vision_bos_token"],
        vision_end_token_id=ids["vision_eos_token"],
    )  # fmt: skip
    return Qwen2_5OmniThinkerForConditionalGeneration(config).eval()


def _tiny_qwen3(vocab: int, ids: dict):
    from transformers import Qwen3OmniMoeThinkerConfig, Qwen3OmniMoeThinkerForConditionalGeneration

    hidden = 32
    config = Qwen3OmniMoeThinkerConfig(
        audio_config={
            "num_mel_bins": 128, "encoder_layers": 1, "encoder_attention_heads": 2, "encoder_ffn_dim": 32,
            "d_model": 16, "output_dim": hidden, "downsample_hidden_size": 8,
        },
        vision_config={
            "depth": 2, "hidden_size": 16, "intermediate_size": 32, "num_heads": 2, "out_hidden_size": hidden,
            "deepstack_visual_indexes": [0], "num_position_embeddings": 64,
        },
        text_config={
            "vocab_size": vocab, "hidden_size": hidden, "intermediate_size": 64, "num_hidden_layers": 2,
            "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8, "moe_intermediate_size": 16,
            "num_experts": 4, "num_experts_per_tok": 2,
            "rope_parameters": {"rope_type": "default", "rope_theta": 1e6, "mrope_section": [1, 1, 2],
                                "mrope_interleaved": True},
        },
        audio_token_id=ids["audio_token"], image_token_id=ids["image_token"], video_token_id=ids["video_token"],
        audio_start_token_id=ids["audio_bos_token"], vision_start_token_id=ids["vision_bos_token"],
    )  # fmt: skip
    return Qwen3OmniMoeThinkerForConditionalGeneration(config)


def save_tiny_model(folder: str | Path, seed: int = 0, family: str = "qwen2_5_omni") -> Path:
    """Write a tiny thinker and its processor as a model folder; returns the folder."""
    from transformers.utils import logging

    logging.disable_progress_bar()
    folder = Path(folder)
    processor = tiny_processor(family)
    tiny_thinker(processor, seed, family).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder
