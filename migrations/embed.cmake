# Writes OUT: a C++ source holding every migrations/NNNN_*.sql, in order.
file(GLOB sql_files "${DIR}/[0-9][0-9][0-9][0-9]_*.sql")
list(SORT sql_files)
set(body "")
foreach(f ${sql_files})
  get_filename_component(name "${f}" NAME)
  string(SUBSTRING "${name}" 0 4 version)
  math(EXPR version "${version}")
  file(READ "${f}" sql)
  string(APPEND body "    {${version}, \"${name}\", R\"aj_sql(${sql})aj_sql\"},\n")
endforeach()
file(WRITE "${OUT}.tmp"
"// Generated from migrations/*.sql by migrations/embed.cmake. Do not edit.
#include \"storage/postgres/migrations.h\"

namespace actionjournal {

const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> kAll = {
${body}  };
  return kAll;
}

}  // namespace actionjournal
")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
