package workbook

import (
	"os/exec"
	"strings"
	"testing"
)

// TestOnlyWorkbookImportsExcelize fails when code other than this package
// (tests aside) imports excelize: the XLSX format has one home (issue 10).
func TestOnlyWorkbookImportsExcelize(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}:{{range .Imports}} {{.}}{{end}}", "github.com/payrun/payrun/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const self = "github.com/payrun/payrun/internal/workbook"
	importers := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, ":")
		for _, imp := range strings.Fields(imports) {
			if !strings.HasPrefix(imp, "github.com/xuri/excelize") {
				continue
			}
			if pkg != self {
				t.Errorf("%s imports %s: XLSX is internal/workbook's", pkg, imp)
			}
			importers++
		}
	}
	if importers == 0 {
		t.Error("go list shows no importer of excelize at all: the test looks at the wrong output")
	}
}
