"""One STAN-LLaVA chat turn with tiny random models: the prompt's <image> expands to the
video tokens exactly as LLaVA's own image path fills it, and generate runs end to end."""
import pytest
import torch

pytest.importorskip('transformers')

from mmstan.chat.llava import STANLLaVA, build_video_tower  # noqa: E402
from mmstan.chat.tiny import tiny_llava, tiny_mugstan_state  # noqa: E402
from mmstan.errors import UserError  # noqa: E402

QUESTION = 'what happens in the video ?'


@pytest.fixture(scope='module')
def parts():
    return tiny_llava(), tiny_mugstan_state()


def test_one_frame_without_branch_is_llavas_own_image_prompt(parts):
    (llava, tokenizer, processor), state = parts
    model = STANLLaVA(llava, build_video_tower(llava, state, use_branch=False, spatial_pool=1),
                      tokenizer, processor)
    torch.manual_seed(0)
    video = torch.randn(1, 3, 1, 56, 56)
    with torch.no_grad():
        features = model.video_features(video)
        ids = model.prompt_ids(QUESTION, features.shape[1])
        ours = llava(inputs_embeds=model.inputs_embeds(ids, features)).logits
        # transformers' own path: the same ids with LLaVA's 16 image tokens, and the pixels
        theirs = llava(input_ids=ids, pixel_values=video[:, :, 0]).logits
    assert int((ids == llava.config.image_token_index).sum()) == 16
    assert (ours - theirs).abs().max() <= 1e-5


def _greedy(llava, embeds, steps, eos):
    """Greedy decoding by a plain loop over the LLM's full forward (no cache)."""
    out = []
    for _ in range(steps):
        token = int(llava(inputs_embeds=embeds).logits[0, -1].argmax())
        out.append(token)
        if token == eos:
            break
        embeds = torch.cat([embeds, llava.get_input_embeddings()(torch.tensor([[token]]))], dim=1)
    return out


def test_generate_runs_end_to_end_on_a_short_video(parts):
    (llava, tokenizer, processor), state = parts
    tower = build_video_tower(llava, state)  # branch on, 2x2 pooling: 4 tokens per frame
    model = STANLLaVA(llava, tower, tokenizer, processor)
    torch.manual_seed(1)
    frames = torch.randint(0, 256, (4, 3, 48, 64), dtype=torch.uint8)
    video = model.preprocess(frames)
    assert video.shape == (1, 3, 4, 56, 56)
    answer = model.chat(video, QUESTION, max_new_tokens=6)
    with torch.no_grad():
        features = model.video_features(video)
        ids = model.prompt_ids(QUESTION, features.shape[1])
        reference = _greedy(llava, model.inputs_embeds(ids, features), 6, tokenizer.eos_token_id)
    assert features.shape == (1, 16, llava.config.text_config.hidden_size) and tower.num_tokens(4) == 16
    assert int((ids == llava.config.image_token_index).sum()) == 16
    words = tokenizer.convert_ids_to_tokens(ids[0])
    assert words[:2] == ['USER:', '<image>'] and words[16] == '<image>' and words[17] == 'what'
    assert answer == tokenizer.decode(reference, skip_special_tokens=True).strip()


def test_a_prompt_without_one_image_placeholder_is_refused(parts):
    (llava, tokenizer, processor), state = parts
    model = STANLLaVA(llava, build_video_tower(llava, state), tokenizer, processor,
                      prompt='USER: {question} ASSISTANT:')
    with pytest.raises(UserError, match='must hold one <image>'):
        model.prompt_ids(QUESTION, 16)
