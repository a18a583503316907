"""A tiny random STAN-LLaVA built from config objects (no download): the tests' model and
the one ``tools/analysis/chat_turn_cost.py`` times. Tiny CLIP vision tower (56 px, patch
14: a 4x4 grid), tiny Llama LLM, a word-level tokenizer with ``<image>``, and a random
Mug-STAN checkpoint of the same CLIP width at 28 px (its grids are resampled on load, as a
224 px Mug-STAN-L/14 branch is for LLaVA's 336 px tower)."""
from typing import Dict, Tuple

import torch
from torch import Tensor, nn

#: Words of the tiny tokenizer (after its special tokens).
WORDS = ('USER:', 'ASSISTANT:', 'what', 'happens', 'in', 'the', 'video', '?', 'a', 'ball',
         'moves', 'left', 'right', 'up', 'down', 'then', 'and', 'it', 'is', 'red')
SPECIALS = ('<unk>', '<s>', '</s>', '<image>')
VISION = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=4, num_attention_heads=4,
              image_size=56, patch_size=14)
TEXT = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=4, max_position_embeddings=512)


def tiny_tokenizer():
    """A ``PreTrainedTokenizerFast`` over :data:`WORDS` (whitespace split, ``<image>`` special)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(SPECIALS + WORDS)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token='<unk>'))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token='<unk>', bos_token='<s>',
                                   eos_token='</s>', additional_special_tokens=['<image>'])


def tiny_llava(seed: int = 0, **config) -> Tuple[nn.Module, object, object]:
    """``(LlavaForConditionalGeneration, tokenizer, image processor)``, random, eval mode
    (the CLIP's LayerNorms perturbed too, so that every CLIP weight shows in its output).
    ``config``: LlavaConfig overrides (``vision_feature_select_strategy``, ...)."""
    from transformers import (
        CLIPImageProcessorFast,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
    )

    tokenizer = tiny_tokenizer()
    options = dict(vision_feature_layer=-2, vision_feature_select_strategy='default',
                   projector_hidden_act='gelu')
    options.update(config)
    cfg = LlavaConfig(vision_config=CLIPVisionConfig(**VISION),
                      text_config=LlamaConfig(vocab_size=len(tokenizer), **TEXT),
                      image_token_index=tokenizer.convert_tokens_to_ids('<image>'), **options)
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(cfg).eval()
    with torch.no_grad():  # LayerNorms start at (1, 0): make every weight of CLIP count
        for p in model.vision_tower.parameters():
            p.add_(0.05 * torch.randn_like(p))
    size = VISION['image_size']
    processor = CLIPImageProcessorFast(size={'shortest_edge': size},
                                       crop_size={'height': size, 'width': size})
    return model, tokenizer, processor


def tiny_mugstan_state(num_layers: int = 2, num_frames: int = 4, seed: int = 1,
                       image_size: int = 28) -> Dict[str, Tensor]:
    """A Mug-STAN retriever checkpoint's ``state_dict`` in mmstan's layout: its CLIP
    (``backbone.clip.*``) of the tiny LLaVA's width and depth at ``image_size``, a
    ``'paper'`` branch (``backbone.stan.*``) of ``num_layers`` layers whose weights are all
    random (the temporal projection is not zero, so frame order matters) and a text tower
    (``text_encoder.*``)."""
    from mmstan.models.backbones.clip_stan import CLIPSTAN
    from mmstan.models.clip import create_clip

    w, heads = VISION['hidden_size'], VISION['num_attention_heads']
    arch = dict(embed_dim=w, quick_gelu=True,
                text_cfg=dict(context_length=8, vocab_size=16, width=w, heads=4, layers=1),
                vision_cfg=dict(image_size=image_size, patch_size=VISION['patch_size'], width=w,
                                layers=VISION['num_hidden_layers'], head_width=w // heads,
                                mlp_ratio=VISION['intermediate_size'] / w))
    torch.manual_seed(seed)
    clip = create_clip(arch)
    backbone = CLIPSTAN(clip_model=clip, num_layers=num_layers, num_frames=num_frames)
    with torch.no_grad():
        for p in backbone.stan.parameters():
            p.add_(0.1 * torch.randn_like(p))
    state = {f'backbone.{k}': v for k, v in backbone.state_dict().items()}
    state.update({f'text_encoder.text.{k}': v for k, v in clip.state_dict().items()
                  if not k.startswith('visual.')})
    return state
