# Release builds link the small libraries parley uses (libedit with libtinfo, libbsd and libmd;
# PCRE2; liburing) from their static archives. Each shared library costs every start of parley
# mapped and relocated pages: 0.55 MB of peak RSS in all for `parley conns -tan`, a third of what
# separated it from ss (bench/conns.sh). OpenSSL (security updates) and libc stay shared, and
# sanitizer builds keep the shared libraries their runtimes expect.
if(CMAKE_CXX_FLAGS MATCHES "sanitize=")
  set(parley_static_default OFF)
else()
  set(parley_static_default ON)
endif()
option(PARLEY_STATIC_LIBS "Link libedit, PCRE2 and liburing from their static archives"
       ${parley_static_default})

# parley_link_pkg(TARGET SCOPE PREFIX ARCHIVE...): links what pkg_check_modules(PREFIX ...
# IMPORTED_TARGET) found, as the archives lib<ARCHIVE>.a (the library and what it needs, in link
# order) when PARLEY_STATIC_LIBS is on and all of them exist, else as the shared library.
function(parley_link_pkg target scope prefix)
  set(archives)
  if(PARLEY_STATIC_LIBS)
    foreach(name IN LISTS ARGN)
      find_library(PARLEY_ARCHIVE_${name} NAMES lib${name}.a)
      if(NOT PARLEY_ARCHIVE_${name})
        message(STATUS "parley: no lib${name}.a, linking ${prefix} shared")
        set(archives)
        break()
      endif()
      list(APPEND archives ${PARLEY_ARCHIVE_${name}})
    endforeach()
  endif()
  if(NOT archives)
    target_link_libraries(${target} ${scope} PkgConfig::${prefix})
    return()
  endif()
  target_include_directories(${target} SYSTEM ${scope} ${${prefix}_INCLUDE_DIRS})
  target_compile_options(${target} ${scope} ${${prefix}_CFLAGS_OTHER})
  target_link_libraries(${target} ${scope} ${archives})
endfunction()
