#!/usr/bin/env bash
# Offscreen OpenGL for MuJoCo: EGL (libegl1 + Mesa) works without a display; OSMesa is the fallback.
set -euo pipefail
have() { ldconfig -p 2>/dev/null | grep -q "$1"; }
if have libEGL.so.1 && have libOSMesa; then exit 0; fi
if [ "$(id -u)" != 0 ]; then echo "install_system: not root; need libegl1 libgl1-mesa-dri libosmesa6 for offscreen MuJoCo" >&2; exit 0; fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends libegl1 libgl1 libgl1-mesa-dri libegl-mesa0 libosmesa6 >/dev/null
