# `make package` (cmake --build --target package): parley_VERSION_ARCH.deb with CPack, holding the
# same tree `cmake --install` installs: /usr/bin/parley, the manual pages, the bash, zsh and fish
# completions, the example systemd units and the README.
#
# Dependencies are the Debian packages of the shared libraries parley links, found by
# dpkg-shlibdeps from the binary itself (libc6 on Debian 12, for a release build: the rest is
# linked in, see StaticLibs.cmake), so a new library cannot be forgotten and
# `apt install ./parley_*.deb` pulls exactly what is missing; and by hand, those it loads with
# dlopen when a command needs them.

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME parley)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "parley")
set(CPACK_PACKAGE_CONTACT "parley maintainers <parley@localhost>" CACHE STRING
    "Maintainer field of the .deb")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "netcat, echo server, line client, socket lister, load tester and network doctor in one")
set(CPACK_PACKAGE_DESCRIPTION
    "parley is one C++20 binary for socket work over TCP, UDP and Unix sockets: a netcat client
and server (with proxies, port scans, -e/-c, a broker and a chat room), a multi-core echo
server, an interactive line client, a socket lister like ss, a load tester and a network
doctor that explains why a port cannot be reached.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # parley_0.1.0_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# doctor loads libnftables only when it reads the firewall, and TLS loads libssl3 on first use
# (dlopen: src/firewall_nft.cpp, src/openssl_lazy.cpp), so dpkg-shlibdeps cannot see them: named
# here, so that both work after an install.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libnftables1, libssl3")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "bash-completion")
# The package directory tree must not be group-writable whatever the builder's umask is.
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
include(CPack)
