"""`python train.py ...` (see --help and README.md); the work is in vmc.tasks.train."""

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> None:
    from vmc.tasks.common import run_task
    from vmc.tasks.train import train

    run_task(train, cfg)


if __name__ == "__main__":
    from vmc.tasks.entry import check_command_line

    check_command_line("train")  # a mistyped key or unquoted prompt: one clear line, exit 2
    main()
