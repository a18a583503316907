"""CLIP text tower and the class-name text head ([M] eq. 20)."""
import open_clip
import pytest
import torch

from mmstan.errors import UserError
from mmstan.models.clip import CLIPText, load_clip
from mmstan.models.heads import TextClassHead, read_class_names


def test_pooled_matches_open_clip_encode_text(tiny_arch):
    model = load_clip(tiny_arch).eval()
    text = CLIPText(clip_model=model).eval()
    tokens = open_clip.tokenize(['a red circle moving left', 'up'], context_length=32)
    pooled, projected, mask = text(tokens)
    torch.testing.assert_close(pooled, model.encode_text(tokens), atol=1e-5, rtol=1e-5)
    assert projected.shape == (2, 32, 64)
    # the pooled embedding is the projected token at the end-of-text position
    eot = tokens.argmax(dim=-1)
    torch.testing.assert_close(projected[torch.arange(2), eot], pooled)
    assert mask.sum(1).tolist() == [int(e) + 1 for e in eot]


def test_frozen_layers(tiny_arch):
    text = CLIPText(tiny_arch, frozen_layers=1)
    assert not text.token_embedding.weight.requires_grad
    assert not any(p.requires_grad for p in text.transformer.resblocks[0].parameters())
    assert all(p.requires_grad for p in text.transformer.resblocks[1].parameters())
    everything = CLIPText(tiny_arch, frozen_layers=-1)
    assert not any(p.requires_grad for p in everything.parameters())


def test_coca_text_tower():
    text = CLIPText('coca_ViT-B-32').eval()
    pooled, projected, mask = text(open_clip.tokenize(['a dog'], context_length=76))
    assert pooled.shape == (1, 512) and projected.shape == (1, 76, 512)


def test_text_class_head_is_scaled_cosine(tiny_arch):
    names = ['moving left', 'moving right', 'moving up']
    head = TextClassHead(names, arch=tiny_arch, tau=100.0, topk=(1,))
    text = CLIPText(tiny_arch)  # random init differs; check against the stored embeddings
    assert head.class_embeddings.shape == (3, 64) and text is not None
    torch.testing.assert_close(head.class_embeddings.norm(dim=-1), torch.ones(3))
    frames = torch.randn(2, 4, 64)
    video = torch.nn.functional.normalize(frames.mean(1), dim=-1)
    torch.testing.assert_close(head(frames), 100.0 * video @ head.class_embeddings.T)
    assert not any(p.requires_grad for p in head.parameters())  # text side is frozen


def test_text_class_head_encodes_names_with_given_weights(tiny_arch, tmp_path):
    model = load_clip(tiny_arch).eval()
    path = tmp_path / 'clip.pt'
    torch.save(model.state_dict(), path)
    head = TextClassHead(['left', 'right'], arch=tiny_arch, pretrained=str(path))
    expected = model.encode_text(open_clip.tokenize(['left', 'right'], context_length=32))
    torch.testing.assert_close(head.class_embeddings,
                               torch.nn.functional.normalize(expected, dim=-1), atol=1e-5, rtol=1e-5)


def test_label_maps(tmp_path, shared_data):
    plain = tmp_path / 'plain.txt'
    plain.write_text('abseiling\nair drumming\n')
    numbered = tmp_path / 'numbered.txt'
    numbered.write_text('0 abseiling\n1 air drumming\n')
    assert read_class_names(str(plain)) == read_class_names(str(numbered)) == [
        'abseiling', 'air drumming']
    assert len(read_class_names(f'{shared_data}/label_maps/k400.txt')) == 400
    assert len(read_class_names(f'{shared_data}/label_maps/sthv2.txt')) == 174
    with pytest.raises(UserError, match='label map not found'):
        read_class_names(str(tmp_path / 'nope.txt'))


def test_tokenizer_keeps_end_of_text_when_truncating():
    from mmstan.datasets.transforms import OpenCLIPTokenize

    eot = open_clip.get_tokenizer('ViT-B-32').eot_token_id
    long_caption = ' '.join(['word'] * 100)
    for length in (32, 64, 77):
        tokens = OpenCLIPTokenize(length)(dict(text=long_caption))['text']
        assert tokens.shape == (length,) and tokens[-1] == eot and tokens.argmax() == length - 1
    short = OpenCLIPTokenize(32)(dict(text='a dog'))['text']
    assert short[short.argmax()] == eot and short[short.argmax() + 1:].eq(0).all()
