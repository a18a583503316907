"""OpenCLIPTokenize keeps the end-of-text token when it truncates."""
import open_clip


def test_tokenizer_keeps_end_of_text_when_truncating():
    from mmstan.datasets.transforms import OpenCLIPTokenize

    eot = open_clip.get_tokenizer('ViT-B-32').eot_token_id
    long_caption = ' '.join(['word'] * 100)
    for length in (32, 64, 77):
        tokens = OpenCLIPTokenize(length)(dict(text=long_caption))['text']
        assert tokens.shape == (length,) and tokens[-1] == eot and tokens.argmax() == length - 1
    short = OpenCLIPTokenize(32)(dict(text='a dog'))['text']
    assert short[short.argmax()] == eot and short[short.argmax() + 1:].eq(0).all()
