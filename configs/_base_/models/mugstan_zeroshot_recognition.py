# Zero-shot recognition ([M] Table I) with a post-pretrained Mug-STAN-B/32: each video is
# scored against bare class names encoded by the text tower of the SAME checkpoint (a
# VideoTextRetriever checkpoint loads as it is, see CLIPRecognizer), by Mug (eqs. 11-18) of
# each class name's tokens against the clip's frames, as post-pretraining aligned them
# (scoring='mug'; 'global' is the plain cosine). Test only:
#   python tools/test.py configs/mugstan/zeroshot_<name>.py work_dirs/mugstan/webvid_pretrain/epoch_3.pth
_base_ = ['../default_runtime.py', './clip_preprocessors.py']

zeroshot_frames = 12
model = dict(
    type='CLIPRecognizer',
    clip=dict(arch='ViT-B-32', pretrained=None),  # all weights come from the checkpoint
    backbone=dict(type='CLIPSTAN', num_frames=zeroshot_frames, num_layers=4),
    cls_head=dict(type='TextClassHead', classes=[], scoring='mug', average_clips='prob'),
    data_preprocessor={{_base_.clip_preprocessor}})
test_cfg = dict(type='TestLoop')
