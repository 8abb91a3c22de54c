# Shared compile settings and helpers for llmbench targets.

add_library(llmbench_options INTERFACE)
# Host C/C++ flags; nvcc (CUDA sources) gets its own below.
set(LLMBENCH_HOST_LANGUAGE "$<NOT:$<COMPILE_LANGUAGE:CUDA>>")
target_compile_options(llmbench_options INTERFACE
                       "$<${LLMBENCH_HOST_LANGUAGE}:-Wall;-Wextra;-Wpedantic;-Wno-missing-field-initializers>")
target_compile_options(llmbench_options INTERFACE "$<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra>")
if(LLMBENCH_WERROR)
  target_compile_options(llmbench_options INTERFACE "$<${LLMBENCH_HOST_LANGUAGE}:-Werror>"
                                                    "$<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Werror;--Werror=all-warnings>")
endif()
# Boost.Asio uses deprecated-copy in places and GCC 12 warns on them under -Wextra.
target_compile_definitions(llmbench_options INTERFACE BOOST_ASIO_NO_DEPRECATED BOOST_BEAST_USE_STD_STRING_VIEW)
if(LLMBENCH_SANITIZE)
  target_compile_options(llmbench_options INTERFACE
                         "$<${LLMBENCH_HOST_LANGUAGE}:-fsanitize=address,undefined;-fno-omit-frame-pointer;-fno-sanitize-recover=undefined>")
  target_link_options(llmbench_options INTERFACE -fsanitize=address,undefined)
  # GCC 12 reports false "maybe-uninitialized" inside Boost.Beast's parser once ASan instruments it.
  target_compile_options(llmbench_options INTERFACE "$<${LLMBENCH_HOST_LANGUAGE}:-Wno-maybe-uninitialized>")
endif()
# The libFuzzer build (scripts/test.sh --fuzz): every library is compiled with coverage
# instrumentation, so the fuzzers see into the parsers they call, not only their own file; ASan and
# UBSan abort on the first error.
set(LLMBENCH_FUZZING OFF)
if(LLMBENCH_BUILD_FUZZ AND CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  set(LLMBENCH_FUZZING ON)
  target_compile_options(llmbench_options INTERFACE -fsanitize=fuzzer-no-link,address,undefined
                                                    -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_link_options(llmbench_options INTERFACE -fsanitize=address,undefined)
endif()
if(LLMBENCH_TSAN)
  target_compile_options(llmbench_options INTERFACE "$<${LLMBENCH_HOST_LANGUAGE}:-fsanitize=thread;-fno-omit-frame-pointer>")
  # Asio's "fenced blocks" are bare std::atomic_thread_fence calls, which TSan does not model (GCC
  # refuses them under -Werror=tsan). Handlers cross threads through the scheduler's mutex-guarded
  # queue, which TSan does see, so the TSan build leaves the fences out.
  target_compile_definitions(llmbench_options INTERFACE BOOST_ASIO_DISABLE_FENCED_BLOCK)
  target_link_options(llmbench_options INTERFACE -fsanitize=thread)
endif()

# llmbench_module(NAME SOURCES ... DEPS ...): one static library per module.
function(llmbench_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  if(ARG_SOURCES)
    add_library(llmbench_${name} STATIC ${ARG_SOURCES})
    target_include_directories(llmbench_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(llmbench_${name} PUBLIC llmbench_options ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  else()
    add_library(llmbench_${name} INTERFACE)
    target_include_directories(llmbench_${name} INTERFACE ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(llmbench_${name} INTERFACE llmbench_options ${ARG_DEPS})
  endif()
  add_library(llmbench::${name} ALIAS llmbench_${name})
endfunction()

# llmbench_test(NAME SOURCES ... DEPS ... [LABELS ...]): a GoogleTest binary registered with ctest.
function(llmbench_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE llmbench_options GTest::gtest GTest::gtest_main ${ARG_DEPS})
  target_compile_definitions(${name} PRIVATE LLMBENCH_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
                                             LLMBENCH_BINARY_DIR="${PROJECT_BINARY_DIR}")
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS "${ARG_LABELS}")
endfunction()

# llmbench_fuzz_target(NAME SOURCES ... DEPS ... CORPUS dir): a libFuzzer target (tests/fuzz/<module>/).
# With clang and LLMBENCH_BUILD_FUZZ it is a real fuzzer (run it by hand or from CI for a bounded
# time); it is always also built with tests/fuzz/fuzz_main.cpp as <NAME>_corpus and run over its
# committed corpus by ctest, so that every input once found stays a regression test.
function(llmbench_fuzz_target name)
  cmake_parse_arguments(ARG "" "CORPUS" "SOURCES;DEPS" ${ARGN})
  add_executable(${name}_corpus ${ARG_SOURCES} ${PROJECT_SOURCE_DIR}/tests/fuzz/fuzz_main.cpp)
  target_link_libraries(${name}_corpus PRIVATE llmbench_options ${ARG_DEPS})
  add_test(NAME ${name}_corpus COMMAND ${name}_corpus ${ARG_CORPUS})
  set_tests_properties(${name}_corpus PROPERTIES LABELS "unit;fuzz" TIMEOUT 120)
  if(LLMBENCH_FUZZING)
    add_executable(${name} ${ARG_SOURCES})
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(${name} PRIVATE llmbench_options ${ARG_DEPS})
    # One line per fuzzer, "<target> <corpus dir>", for scripts/test.sh --fuzz.
    file(APPEND ${PROJECT_BINARY_DIR}/fuzz_targets.txt "${name} ${ARG_CORPUS}\n")
  endif()
endfunction()

# llmbench_embed_file(TARGET SYMBOL FILE): links FILE's bytes into TARGET as read-only data,
# visible to C++ as `extern "C" const char SYMBOL_begin[], SYMBOL_end[];` (core/embedded_file.h).
# Uses the assembler's .incbin, so large files cost nothing at compile time.
function(llmbench_embed_file target symbol file)
  get_filename_component(abs ${file} ABSOLUTE)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/embedded/${symbol}.S)
  file(WRITE ${out}.in
    "  .section .rodata\n  .balign 16\n  .global ${symbol}_begin\n${symbol}_begin:\n  .incbin \"${abs}\"\n"
    "  .global ${symbol}_end\n${symbol}_end:\n  .byte 0\n  .section .note.GNU-stack,\"\",@progbits\n")
  configure_file(${out}.in ${out} COPYONLY)
  set_source_files_properties(${out} PROPERTIES OBJECT_DEPENDS ${abs})
  target_sources(${target} PRIVATE ${out})
endfunction()
