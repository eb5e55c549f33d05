"""Build a tiny random-weight chat model that vLLM can serve: `python make_tiny_model.py OUT_DIR`.

The real-server tests need a real OpenAI-compatible server, and no weights can be downloaded
here, so the model is made from nothing: a two-layer Qwen2 with random weights, a byte-level BPE
tokenizer trained on a few lines of text, and a Qwen3-style chat template that honours
`enable_thinking` (the switch glm-eval sends to vLLM and SGLang), with <think> and </think> as
single tokens so that vLLM's reasoning parser can split the output. Its answers are noise; what the
tests check is the wire format around them. Seeded: the same folder every time.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GenerationConfig, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]
CORPUS = [
    "Solve the problem. Put the final answer in \\boxed{}.",
    "What is 7 + 5? The answer is \\boxed{12}.",
    "Let me think step by step about the triangle, the circle and the integer n.",
    "Answer with the letter of the correct choice: A, B, C or D.",
    "0 1 2 3 4 5 6 7 8 9 10 100 1000 x y z = + - * / ^ ( ) [ ] { } $ \\frac \\sqrt \\pi",
    "user assistant system the of and to a in is that for it as with was on be by",
]
# Qwen3's template, cut to what a chat-completions request needs: with enable_thinking false the
# generation prompt carries an empty think block, so the model answers without reasoning.
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}"
    "{{- '<think>\\n\\n</think>\\n\\n' }}"
    "{%- endif %}"
    "{%- endif %}"
)


def build_tokenizer() -> PreTrainedTokenizerFast:
    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=1024, special_tokens=SPECIAL, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(CORPUS * 20, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>", bos_token=None, unk_token=None,
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build(out: Path) -> None:
    torch.manual_seed(0)
    tokenizer = build_tokenizer()
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,  # head_dim 64: the CPU attention kernels take 32, 64, 80, 96, 112, 128...
        max_position_embeddings=8192,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        bos_token_id=None,
        torch_dtype="float32",
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(eos_token_id=config.eos_token_id, pad_token_id=config.pad_token_id)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_tiny_model.py OUT_DIR")
    build(Path(sys.argv[1]))
