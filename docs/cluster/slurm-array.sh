#!/bin/sh
# failover-lab sweep on Slurm: a job array of shards, then a merge that waits for it.
#
#   sbatch --parsable slurm-array.sh                   # prints the array's job id, J
#   sbatch --dependency=afterok:J --wrap "failover-lab merge results/part-*.json --out reports/sweep"
#
# `--shard auto` reads SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_MIN and SLURM_ARRAY_TASK_COUNT,
# so the array's range (here 0-7, 8 shards) is the only place the shard count is written.
# Submit from the repository's checkout on a shared file system: merge runs the recorded
# command again in the same directory, with the same scenario files.
#
#SBATCH --job-name=failover-lab-sweep
#SBATCH --array=0-7
#SBATCH --cpus-per-task=2
#SBATCH --mem=512M
#SBATCH --time=06:00:00
#SBATCH --output=results/shard-%a.log

set -eu
mkdir -p results
exec failover-lab sweep scenarios/flapping-provider.toml --seeds 20 --quiet \
    --shard auto --partial "results/part-${SLURM_ARRAY_TASK_ID}.json"
