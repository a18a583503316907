# FullyShardedDataParallel through mmengine's FlexibleRunner and FSDPStrategy (issue #20).
# Add it after a config's other bases: `_base_ = ['./my_config.py', '../_base_/strategies/fsdp.py']`
# and launch with tools/dist_train.sh (one process per device; CPU runs use gloo).
# mmstan's tools install the fixes mmengine 0.10.7's FSDPStrategy needs when this
# strategy is used (mmstan/compat.py: fsdp_*).
runner_type = 'FlexibleRunner'  # tools/train.py / test.py build RUNNERS.build(cfg) by this key
strategy = dict(
    type='FSDPStrategy',
    model_wrapper=dict(
        type='MMFullyShardedDataParallel',
        # one FSDP unit per CLIP residual block and per STAN layer (mmstan/engine/fsdp_wrap_policy.py)
        auto_wrap_policy=dict(type='mmstan_wrap_policy'),
        # original parameters stay visible: per-group lrs (paramwise_cfg), frozen layers
        use_orig_params=True),
    # checkpoints hold the whole model in one file written by rank 0, loadable by the plain
    # Runner (tools/test.py without this base, mmstan.apis.init_model)
    state_dict_cfg='full')
