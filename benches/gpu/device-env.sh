# Sourced by the benches/gpu/run-*.sh scripts on the lent GPU machine: unpacks the Vulkan
# loader from the Debian .debs carried in .gl (the GPU image has none), points the loader at
# NVIDIA's ICD, installs the carried `gguf` wheel (.whl) when there is one, and creates $OUT.
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
fi
OUT="${OUT:-/tmp/out}"
mkdir -p "$OUT"
