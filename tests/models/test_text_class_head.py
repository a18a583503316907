"""The class-name text head ([M] eq. 20) and label maps."""
import open_clip
import pytest
import torch
import torch.nn.functional as F

from mmstan.errors import UserError
from mmstan.models.clip import load_clip
from mmstan.models.heads import TextClassHead, read_class_names


def test_text_class_head_is_scaled_cosine_with_open_clips_text_embeddings(tiny_arch, tmp_path):
    model = load_clip(tiny_arch).eval()
    path = tmp_path / 'clip.pt'
    torch.save(model.state_dict(), path)
    names = ['moving left', 'moving right', 'moving up']
    head = TextClassHead(names, arch=tiny_arch, pretrained=str(path), tau=100.0, topk=(1,))
    with torch.no_grad():
        expected = F.normalize(model.encode_text(open_clip.tokenize(names, context_length=32)), dim=-1)
    torch.testing.assert_close(head.class_embeddings, expected, atol=1e-5, rtol=1e-5)
    frames = torch.randn(2, 4, 64)
    video = F.normalize(frames.mean(1), dim=-1)
    torch.testing.assert_close(head(frames), 100.0 * video @ expected.T, atol=1e-4, rtol=1e-5)
    assert not any(p.requires_grad for p in head.parameters())  # text side is frozen


def test_class_embeddings_follow_loaded_text_weights(tiny_arch):
    head = TextClassHead(['left', 'right'], arch=tiny_arch)
    before = head.class_embeddings.clone()
    other = TextClassHead(['left', 'right'], arch=tiny_arch)  # another random init
    head.load_state_dict(other.state_dict())
    torch.testing.assert_close(head.class_embeddings, other.class_embeddings)
    assert not torch.allclose(before, head.class_embeddings)


def test_text_tower_stays_in_eval_mode(tiny_arch):
    head = TextClassHead(['left', 'right'], arch=tiny_arch).train()
    assert head.training and not head.text_encoder.training


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
