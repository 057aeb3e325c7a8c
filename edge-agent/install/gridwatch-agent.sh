#!/bin/sh
# Starts the gridwatch edge agent bundle (gridwatch-agent.cjs, next to this
# file) on Node 20+ with the agent's memory flags (docs/edge-agent.md).
#   gridwatch-agent <config.yaml>        (or GW_AGENT_CONFIG=<path>)
# GW_NODE: the node binary (default: node on PATH).
# GW_AGENT_NODE_FLAGS: replaces the flags below.
# glibc malloc settings for a small box, each unless already set:
@MALLOC_ENV@
dir=$(dirname "$(readlink -f "$0")")
exec "${GW_NODE:-node}" ${GW_AGENT_NODE_FLAGS:-@NODE_FLAGS@} "$dir/gridwatch-agent.cjs" "$@"
