package layers

import (
	"reflect"
	"testing"
	"unsafe"
)

// fillAll sets every field of struct v, unexported ones too, to a value
// that is not zero: numbers 1, true, a one-element slice, a new value.
func fillAll(t *testing.T, v reflect.Value) {
	for i := range v.NumField() {
		f := v.Field(i)
		f = reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem()
		fillValue(t, f)
	}
}

func fillValue(t *testing.T, f reflect.Value) {
	switch f.Kind() {
	case reflect.Int, reflect.Int32, reflect.Int64:
		f.SetInt(1)
	case reflect.Bool:
		f.SetBool(true)
	case reflect.Slice:
		f.Set(reflect.MakeSlice(f.Type(), 1, 1))
	case reflect.Array:
		for j := range f.Len() {
			fillValue(t, f.Index(j))
		}
	case reflect.Pointer:
		f.Set(reflect.New(f.Type().Elem()))
	default:
		t.Fatalf("no test value for a %s", f.Type())
	}
}

// shared reports whether a and b are the same values, slices (also in
// arrays) with the same backing array.
func shared(a, b reflect.Value) bool {
	switch a.Kind() {
	case reflect.Slice:
		return a.Len() == b.Len() && a.Pointer() == b.Pointer()
	case reflect.Array:
		for j := range a.Len() {
			if !shared(a.Index(j), b.Index(j)) {
				return false
			}
		}
		return true
	}
	return a.Equal(b)
}

// TestReplica checks each layer's Replica field by field: every exported
// field but the gradients is the original's (slices shared, not copied),
// the gradients and every unexported field (the buffers a pass writes)
// are zero. A field added to a layer fails here until Replica handles it.
func TestReplica(t *testing.T) {
	gradients := map[string]bool{"Grad": true, "WeightGrad": true, "BiasGrad": true}
	for _, l := range []any{&Input{}, &Conv{}, &Norm{}, &MaxPool{}, &Linear{}} {
		v := reflect.ValueOf(l).Elem()
		fillAll(t, v)
		r := reflect.ValueOf(l).MethodByName("Replica").Call(nil)[0]
		for i := range v.NumField() {
			name := v.Type().Field(i).Name
			orig, rep := v.Field(i), r.Field(i)
			switch {
			case !v.Type().Field(i).IsExported() || gradients[name]:
				if !rep.IsZero() {
					t.Errorf("%s.%s: the replica has the original's (or some) value; want its own, zero", v.Type().Name(), name)
				}
			case !shared(orig, rep):
				t.Errorf("%s.%s: the replica's differs from the original's, or is a copy", v.Type().Name(), name)
			}
		}
	}
}
