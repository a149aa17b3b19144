# Shared by scripts/setup.sh and scripts/test.sh: installs the Debian packages Magpie builds against.
MAGPIE_APT_PACKAGES=(pkg-config libjpeg62-turbo-dev libpng-dev zlib1g-dev libsqlite3-dev)

magpie_install_packages() {
    local missing=()
    for p in "${MAGPIE_APT_PACKAGES[@]}" "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "magpie: installing ${missing[*]}" >&2
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Release builds target this CPU's SIMD units; MAGPIE_PORTABLE=1 builds for any CPU of the architecture.
magpie_release_flags() {
    if [ "${MAGPIE_PORTABLE:-0}" = "1" ]; then
        echo ""
    else
        echo "-Xswiftc -target-cpu -Xswiftc native"
    fi
}
