"""The 2-process job of tests/engine/test_fsdp.py (run by torchrun, gloo, CPU): DDP and FSDP
runs of the demo retriever through mmstan's tool plumbing (``runner_config`` +
``build_runner``), one after another in one process group.

``python -m torch.distributed.run --nproc_per_node 2 tests/engine/fsdp_job.py OUT DATA INIT``

Each run trains from the checkpoint INIT (INIT with ``_seq`` before ``.pth`` for the
``SeqTransfHead`` model) and saves its last iteration; rank 0 writes
``OUT/results.json`` (validation metrics, pre-clip gradient norms, learning rates).
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(ROOT, 'configs', 'demo', 'synthetic_motion_retrieval.py')
FSDP_BASE = osp.join(ROOT, 'configs', '_base_', 'strategies', 'fsdp.py')
#: Below every step's gradient norm of the demo model: each step is clipped.
MAX_NORM = 0.05
#: A head with parameters of its own (a copied CLIP text layer: an FSDP unit of its own).
SEQ_HEAD = dict(type='SeqTransfHead', num_layers=1)


def write_configs(out: str) -> dict:
    """The DDP config (the demo's) and the FSDP one (the demo's + the FSDP base)."""
    fsdp = osp.join(out, 'demo_fsdp.py')
    with open(fsdp + '.tmp', 'w') as f:
        f.write(f'_base_ = [{DEMO!r}, {FSDP_BASE!r}]\n')
    os.replace(fsdp + '.tmp', fsdp)  # whole, when the other rank sees it
    return dict(ddp=DEMO, fsdp=fsdp)


def options(data: str, init: str, iters: int) -> dict:
    opts = {'load_from': init, 'randomness.seed': 0,
            'train_cfg': dict(_delete_=True, type='IterBasedTrainLoop', max_iters=iters,
                              val_interval=iters),
            'param_scheduler': [dict(type='LinearLR', start_factor=0.5, by_epoch=False, begin=0,
                                     end=4)],
            'optim_wrapper': dict(_delete_=True, type='OptimWrapper',
                                  optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.02),
                                  paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0,
                                                     custom_keys={'backbone.stan': dict(lr_mult=10.0)}),
                                  clip_grad=dict(max_norm=MAX_NORM)),
            'model.text_frozen_layers': 1, 'model.backbone.grad_checkpointing': True,
            'default_hooks.checkpoint': dict(type='CheckpointHook', interval=2, by_epoch=False,
                                             save_best=None, max_keep_ckpts=-1),
            'default_hooks.logger': dict(type='LoggerHook', interval=1),
            'val_cfg.text_batch_size': 8, 'train_dataloader.dataset.ann_file': 'train.json'}
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts.update({f'{loader}.dataset.data_root': data, f'{loader}.batch_size': 2,
                     f'{loader}.num_workers': 0, f'{loader}.persistent_workers': False})
    for loader in ('val_dataloader', 'test_dataloader'):
        opts[f'{loader}.dataset.ann_file'] = 'test.json'
    return opts


def run(name: str, config: str, out: str, data: str, init: str, iters: int, val: bool = False,
        resume: bool = False, work_dir: str = None, head: dict = None) -> dict:
    from mmengine.dist import barrier

    from mmstan.utils.cli import build_runner, runner_config

    args = argparse.Namespace(config=config, cfg_options=options(data, init, iters),
                              launcher='pytorch', work_dir=work_dir or osp.join(out, name),
                              local_rank=int(os.environ['LOCAL_RANK']))
    cfg = runner_config(args)
    cfg.experiment_name = name
    if head is not None:
        cfg.model.head = head
    cfg.train_dataloader.dataset.pipeline[1].test_mode = True  # the same frames in every run
    if resume:
        cfg.resume, cfg.load_from = True, None
    if not val:  # as tools/train.py --no-validate
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    start = time.time()
    runner = build_runner(cfg)
    runner.train()
    result = dict(runner=type(runner).__name__, model=type(runner.model).__name__,
                  iter=runner.iter, seconds=time.time() - start,
                  grad_norm=list(runner.message_hub.get_scalar('train/grad_norm').data[0]),
                  lr=runner.optim_wrapper.get_lr(),
                  groups=sorted((g['lr'], g['weight_decay'], sum(p.numel() for p in g['params']))
                                for g in runner.optim_wrapper.optimizer.param_groups))
    if val:
        result['metrics'] = {k: float(v) for k, v in runner.val_loop.run().items()}
    barrier()
    return result


def test(name: str, config: str, out: str, data: str, checkpoint: str) -> dict:
    """What tools/test.py does with ``checkpoint``: the test loop's metrics."""
    from mmstan.utils.cli import build_runner, runner_config

    args = argparse.Namespace(config=config, cfg_options=options(data, None, 1), launcher='pytorch',
                              work_dir=osp.join(out, name), local_rank=int(os.environ['LOCAL_RANK']))
    cfg = runner_config(args)
    cfg.experiment_name, cfg.load_from = name, checkpoint
    runner = build_runner(cfg)
    return dict(runner=type(runner).__name__,
                metrics={k: float(v) for k, v in runner.test().items()})


def main() -> None:
    out, data, init = sys.argv[1:4]
    scenarios = sys.argv[4].split(',') if len(sys.argv) > 4 else ['equal', 'learned_head', 'resume']
    configs = dict(ddp=DEMO, fsdp=osp.join(out, 'demo_fsdp.py'))
    if os.environ['RANK'] == '0':
        write_configs(out)
    while not osp.isfile(configs['fsdp']):
        time.sleep(0.1)
    results = {}
    if 'equal' in scenarios:  # 3 steps each, then validation
        results['ddp3'] = run('ddp3', configs['ddp'], out, data, init, 3, val=True)
        results['fsdp3'] = run('fsdp3', configs['fsdp'], out, data, init, 3, val=True)
        results['fsdp_test'] = test('fsdp_test', configs['fsdp'], out, data,
                                    osp.join(out, 'ddp3', 'iter_3.pth'))
    if 'learned_head' in scenarios:  # a head with parameters of its own, in FSDP units too
        init_seq = init.replace('.pth', '_seq.pth')
        results['ddp1_seq'] = run('ddp1_seq', configs['ddp'], out, data, init_seq, 1, val=True, head=SEQ_HEAD)
        results['fsdp1_seq'] = run('fsdp1_seq', configs['fsdp'], out, data, init_seq, 1,
                                   val=True, head=SEQ_HEAD)
    if 'resume' in scenarios:  # 2 steps + save + resume + 2 steps vs 4 straight
        resumed = osp.join(out, 'fsdp2+2')
        results['fsdp2'] = run('fsdp2', configs['fsdp'], out, data, init, 2, work_dir=resumed)
        results['fsdp2+2'] = run('fsdp2+2', configs['fsdp'], out, data, init, 4, resume=True,
                                 work_dir=resumed)
        results['fsdp4'] = run('fsdp4', configs['fsdp'], out, data, init, 4)
    if os.environ['RANK'] == '0':
        with open(osp.join(out, 'results.json'), 'w') as f:
            json.dump(results, f, indent=1)
    import torch.distributed as dist
    dist.barrier()
    dist.destroy_process_group()
    sys.stdout.flush()
    sys.stderr.flush()
    # skip interpreter teardown: a gloo job's static destructors aborted a rank there
    # ('terminate called without an active exception'), after all the work was done
    os._exit(0)


if __name__ == '__main__':
    main()
