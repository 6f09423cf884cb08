"""`python infer.py ...` (see --help and README.md); the work is in vmc.tasks.infer."""

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="conf", config_name="infer")
def main(cfg: DictConfig) -> None:
    from vmc.tasks.common import run_task
    from vmc.tasks.infer import infer

    run_task(infer, cfg)


if __name__ == "__main__":
    main()
