"""`python finetune.py ...` (see --help and README.md); the work is in vmc.tasks.finetune."""

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="conf", config_name="finetune")
def main(cfg: DictConfig) -> None:
    from vmc.tasks.common import run_task
    from vmc.tasks.finetune import finetune

    run_task(finetune, cfg)


if __name__ == "__main__":
    from vmc.tasks.entry import check_command_line

    check_command_line("finetune")  # a mistyped key or unquoted prompt: one clear line, exit 2
    main()
