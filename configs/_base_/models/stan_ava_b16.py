# STAN-self-B/16 AVA detector: mmdet's FastRCNN over the fused CLIP+STAN feature map
# (CLIPSTAN output='feature_map', stride 16), mmaction2's AVA RoI head (RoIAlign on every
# frame, temporal average pool, spatial max pool, multi-label sigmoid classifier). The RoI
# extractor is mmaction2's SingleRoIExtractor3D computing RoIAlign with torchvision
# (prebuilt CPU and CUDA kernels), so the detector needs no CUDA build of mmcv's ops.
_base_ = ['./clip_preprocessors.py']

model = dict(
    type='FastRCNN',
    _scope_='mmdet',
    backbone=dict(
        type='mmaction.CLIPSTAN', arch='ViT-B-16', pretrained='openai', input_resolution=256,
        num_frames=8, num_layers=4, temporal_module='attention', drop_path_rate=0.1,
        output='feature_map'),
    roi_head=dict(
        type='AVARoIHead',
        bbox_roi_extractor=dict(
            type='mmaction.TorchvisionRoIExtractor3D', roi_layer_type='RoIAlign',
            featmap_stride=16, output_size=8, with_temporal_pool=True),
        bbox_head=dict(
            type='BBoxHeadAVA', background_class=True, in_channels=768, num_classes=81,
            multilabel=True, dropout_ratio=0.5)),
    data_preprocessor=dict(
        type='ActionDataPreprocessor', _scope_='mmaction', mean={{_base_.clip_mean}},
        std={{_base_.clip_std}}, format_shape='NCTHW'),
    train_cfg=dict(
        rcnn=dict(
            assigner=dict(type='MaxIoUAssignerAVA', pos_iou_thr=0.9, neg_iou_thr=0.9,
                          min_pos_iou=0.9),
            sampler=dict(type='RandomSampler', num=32, pos_fraction=1, neg_pos_ub=-1,
                         add_gt_as_proposals=True),
            pos_weight=1.0)),
    test_cfg=dict(rcnn=None))
