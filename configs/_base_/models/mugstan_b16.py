# Mug-STAN video recognizer ([M] eq. 20): STAN-B/16 + class-name text head (frozen text
# tower, bare class names, tau=100). Dataset configs set `classes` to their label map.
_base_ = ['./clip_preprocessor.py']

model = dict(
    type='Recognizer3D',
    backbone=dict(
        type='CLIPSTAN', arch='ViT-B-16', pretrained='openai', num_frames=8, num_layers=4,
        temporal_module='attention', drop_path_rate=0.1),
    cls_head=dict(type='TextClassHead', arch='ViT-B-16', pretrained='openai', tau=100.0,
                  average_clips='prob'),
    data_preprocessor={{_base_.clip_preprocessor}})
