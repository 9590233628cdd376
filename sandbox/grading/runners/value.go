// Value-test harness for Go, added to the student's package main as grade_value.go. Its init
// runs the case and exits before the student's main: it reads the case from stdin
// ({"function", "args"}), decodes each JSON arg into the function's parameter type (reflect),
// calls the function and writes one record on stdout, on a line of its own:
// "\x1evalue <tagged JSON>" or "\x1eraised <JSON string>". Several results are reported as a
// list. It decides nothing: the server compares the value with the expected one, which is not
// here. The grader writes the table of functions below.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
)

var gradeValueFunctions = map[string]interface{}{ /* @@FUNCTIONS@@ */ }

func gradeValueTag(v reflect.Value, depth int) map[string]interface{} {
	if depth > 64 {
		return map[string]interface{}{"t": "other", "v": "value nested too deeply"}
	}
	if !v.IsValid() {
		return map[string]interface{}{"t": "null"}
	}
	switch v.Kind() {
	case reflect.Bool:
		return map[string]interface{}{"t": "bool", "v": v.Bool()}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return map[string]interface{}{"t": "int", "v": strconv.FormatInt(v.Int(), 10)}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return map[string]interface{}{"t": "int", "v": strconv.FormatUint(v.Uint(), 10)}
	case reflect.Float32:
		return map[string]interface{}{"t": "float", "v": strconv.FormatFloat(v.Float(), 'g', -1, 32)}
	case reflect.Float64:
		return map[string]interface{}{"t": "float", "v": strconv.FormatFloat(v.Float(), 'g', -1, 64)}
	case reflect.String:
		return map[string]interface{}{"t": "str", "v": v.String()}
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return map[string]interface{}{"t": "list", "v": []interface{}{}}
		}
		items := []interface{}{}
		for i := 0; i < v.Len(); i++ {
			items = append(items, gradeValueTag(v.Index(i), depth+1))
		}
		return map[string]interface{}{"t": "list", "v": items}
	case reflect.Map:
		pairs := []interface{}{}
		iter := v.MapRange()
		for iter.Next() {
			pairs = append(pairs, []interface{}{gradeValueTag(iter.Key(), depth+1), gradeValueTag(iter.Value(), depth+1)})
		}
		return map[string]interface{}{"t": "dict", "v": pairs}
	case reflect.Ptr, reflect.Interface:
		if v.IsNil() {
			return map[string]interface{}{"t": "null"}
		}
		return gradeValueTag(v.Elem(), depth+1)
	}
	return map[string]interface{}{"t": "other", "v": v.Type().String()}
}

func gradeValueEmit(kind string, data interface{}) {
	line, err := json.Marshal(data)
	if err != nil {
		kind, line = "raised", []byte(strconv.Quote(err.Error()))
	}
	os.Stdout.Write([]byte("\n\x1e" + kind + " " + string(line) + "\n"))
	os.Exit(0)
}

func gradeValueCall(fn reflect.Value, raw []json.RawMessage) (result interface{}) {
	defer func() {
		if r := recover(); r != nil {
			gradeValueEmit("raised", fmt.Sprintf("panic: %v", r))
		}
	}()
	kind := fn.Type()
	if kind.NumIn() != len(raw) || kind.IsVariadic() {
		gradeValueEmit("raised", fmt.Sprintf("the function takes %d arguments; the test gives %d", kind.NumIn(), len(raw)))
	}
	args := make([]reflect.Value, len(raw))
	for i, item := range raw {
		arg := reflect.New(kind.In(i))
		if err := json.Unmarshal(item, arg.Interface()); err != nil {
			gradeValueEmit("raised", fmt.Sprintf("argument %d does not fit %s: %v", i+1, kind.In(i), err))
		}
		args[i] = arg.Elem()
	}
	out := fn.Call(args)
	if len(out) == 0 {
		return map[string]interface{}{"t": "null"}
	}
	if len(out) == 1 {
		return gradeValueTag(out[0], 0)
	}
	items := []interface{}{}
	for _, value := range out {
		items = append(items, gradeValueTag(value, 0))
	}
	return map[string]interface{}{"t": "list", "v": items}
}

func init() {
	raw, _ := io.ReadAll(os.Stdin)
	var spec struct {
		Function string            `json:"function"`
		Args     []json.RawMessage `json:"args"`
	}
	if err := json.Unmarshal(raw, &spec); err != nil {
		gradeValueEmit("raised", "the harness could not read its case: "+err.Error())
	}
	os.Stdin.Close()
	fn, ok := gradeValueFunctions[spec.Function]
	if !ok {
		gradeValueEmit("raised", "no function "+spec.Function)
	}
	gradeValueEmit("value", gradeValueCall(reflect.ValueOf(fn), spec.Args))
}
